/**
 * Where managed `vllm_local` servers are remembered between commands, and how a remembered process
 * is recognised: the state directory (`CHAINETTE_STATE_DIR`, default `~/.chainette-stream/`) and a
 * process identity (pid plus the kernel's start time, so a reused pid is not mistaken for ours).
 * The registry of servers itself is `server-registry.ts`.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** The state directory. @default `$CHAINETTE_STATE_DIR`, else `~/.chainette-stream` */
export function stateDirectory(env: Record<string, string | undefined> = process.env): string {
  const configured = env.CHAINETTE_STATE_DIR;
  return configured !== undefined && configured !== "" ? configured : join(homedir(), ".chainette-stream");
}

/** A process as the registry names it: `start_time` is `/proc/PID/stat`'s starttime (null without /proc). */
export interface ProcessIdentity {
  pid: number;
  start_time: string | null;
}

/** Whether `pid` is a live process (a zombie waiting to be reaped counts as gone). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as { code?: unknown }).code === "EPERM";
  }
  const stat = procStat(pid);
  return stat === undefined || stat[0] !== "Z"; // no /proc (macOS): trust kill(0)
}

/** The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), null without /proc. */
export function processStartTime(pid: number): string | null {
  return procStat(pid)?.[19] ?? null;
}

/** This process's identity. */
export function currentProcess(): ProcessIdentity {
  return { pid: process.pid, start_time: processStartTime(process.pid) };
}

/** Whether the process `identity` names is still alive: same pid, same start time, not a zombie. */
export function isSameProcess(identity: ProcessIdentity): boolean {
  if (!Number.isInteger(identity.pid) || identity.pid <= 0 || !isProcessAlive(identity.pid)) return false;
  const now = processStartTime(identity.pid);
  return identity.start_time === null || now === null || now === identity.start_time;
}

/** The fields of /proc/PID/stat after the command name (state first), or undefined without /proc. */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}
