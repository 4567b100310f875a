/**
 * The reaper of one managed server: a detached process started with the server (so it outlives a
 * run killed with `kill -9`) that wakes up about once a second, drops the server's users whose
 * process died, and stops the server once it has had no live user for its `idle_timeout`
 * (unless `warmup` keeps it). It exits when the server's record is gone (stopped by `kill`, by the
 * last user with `idle_timeout: 0`, or dead).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stopServer } from "./server-broker.js";
import { idleRemainingMs, readRecord, refreshRecord, withRegistryLock, writeRecord, type ServerRecord } from "./server-registry.js";

export interface IdleReaperOptions {
  /** Between SIGTERM and SIGKILL. @default 30_000 */
  stopGraceMs?: number;
  /** Longest sleep between two looks. @default 1000 */
  pollMs?: number;
}

type Look = { kind: "gone" } | { kind: "stop"; record: ServerRecord } | { kind: "wait"; ms: number };

export async function watchIdleServer(stateDir: string, id: string, options: IdleReaperOptions = {}): Promise<void> {
  const pollMs = options.pollMs ?? 1000;
  for (;;) {
    // The whole registry was deleted (a test's temporary state dir): nothing left to watch.
    if (!existsSync(join(stateDir, "servers"))) return;
    const look = withRegistryLock(stateDir, (): Look => {
      const record = readRecord(stateDir, id);
      if (record === undefined || refreshRecord(stateDir, record) === "gone") return { kind: "gone" };
      if (record.state === "stopping") return { kind: "wait", ms: pollMs };
      const remaining = idleRemainingMs(record);
      if (remaining === undefined) return { kind: "wait", ms: pollMs };
      if (remaining > 0) return { kind: "wait", ms: Math.min(pollMs, Math.max(50, remaining)) };
      record.state = "stopping";
      writeRecord(stateDir, record);
      return { kind: "stop", record };
    });
    if (look.kind === "gone") return;
    if (look.kind === "stop") {
      await stopServer(stateDir, look.record, options.stopGraceMs ?? 30_000, `no user for idle_timeout ${look.record.idle_timeout_s} s`);
      return;
    }
    await sleep(look.ms);
  }
}

