/**
 * Where `vllm_local` servers are remembered between commands: `engines.json` in the state
 * directory (`CHAINETTE_STATE_DIR`, default `~/.chainette-stream/`), one entry per engine name, and
 * each server's log in `engines/NAME.log`. Entries whose process is gone are dropped on read.
 * Writes go to a temporary file renamed into place; two commands writing at the same moment can
 * lose one entry (no lock), which `kill --all` then cannot see.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface LocalEngineEntry {
  name: string;
  /** The `vllm serve` process, leader of its own process group. */
  pid: number;
  /** Base URL ending in `/v1`. */
  url: string;
  model: string;
  /** ISO 8601. */
  started_at: string;
  /** `warmup`: kept until `kill`; `run`: owned (and stopped) by the run that started it. */
  started_by: "warmup" | "run";
  log: string;
}

/** The state directory. @default `$CHAINETTE_STATE_DIR`, else `~/.chainette-stream` */
export function stateDirectory(env: Record<string, string | undefined> = process.env): string {
  const configured = env.CHAINETTE_STATE_DIR;
  return configured !== undefined && configured !== "" ? configured : join(homedir(), ".chainette-stream");
}

/** The log file of engine `name`'s server (its directory is created). */
export function engineLogPath(name: string, directory = stateDirectory()): string {
  const folder = join(directory, "engines");
  mkdirSync(folder, { recursive: true });
  return join(folder, `${name}.log`);
}

/** Whether `pid` is a live process (a zombie waiting to be reaped counts as gone). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as { code?: unknown }).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

/** The recorded engines whose process is alive; dead ones are removed from the file. */
export function readLocalEngines(directory = stateDirectory()): LocalEngineEntry[] {
  const path = join(directory, "engines.json");
  if (!existsSync(path)) return [];
  let entries: LocalEngineEntry[];
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as { engines?: unknown };
    entries = Array.isArray(parsed.engines) ? (parsed.engines as LocalEngineEntry[]).filter((entry) => typeof entry.pid === "number" && typeof entry.name === "string") : [];
  } catch {
    entries = []; // a torn or hand-edited file: start over rather than refuse every command
  }
  const alive = entries.filter((entry) => isProcessAlive(entry.pid));
  if (alive.length !== entries.length) writeLocalEngines(alive, directory);
  return alive;
}

export function writeLocalEngines(entries: readonly LocalEngineEntry[], directory = stateDirectory()): void {
  mkdirSync(directory, { recursive: true });
  const path = join(directory, "engines.json");
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ engines: entries }, null, 2)}\n`);
  renameSync(temporary, path);
}

/** Records `entry`, replacing any entry of the same name. */
export function recordLocalEngine(entry: LocalEngineEntry, directory = stateDirectory()): void {
  writeLocalEngines([...readLocalEngines(directory).filter((other) => other.name !== entry.name), entry], directory);
}

/** Forgets the entry of `name` if it still names process `pid`. */
export function forgetLocalEngine(name: string, pid: number, directory = stateDirectory()): void {
  const entries = readLocalEngines(directory);
  const kept = entries.filter((entry) => !(entry.name === name && entry.pid === pid));
  if (kept.length !== entries.length) writeLocalEngines(kept, directory);
}
