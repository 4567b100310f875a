/**
 * What `ps` and `kill` see of the managed servers: the registry brought up to date (dead servers
 * and dead users dropped), and a way to stop any of them, orphans of a killed run included.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { stateDirectory } from "./local-engine-state.js";
import { ensureReaper, stopServer } from "./server-broker.js";
import { findMarkedServers, type MarkedServer } from "./unregistered-servers.js";
import { stopProcessGroup } from "./vllm-process.js";
import { idleRemainingMs, readRecords, refreshRecord, withRegistryLock, writeRecord, type ServerRecord } from "./server-registry.js";

/** The live managed servers of the state directory, oldest first (a lost reaper is replaced). */
export function listManagedServers(env: Record<string, string | undefined> = process.env): ServerRecord[] {
  const stateDir = stateDirectory(env);
  if (!existsSync(join(stateDir, "servers"))) return []; // `ps` on a machine that never ran one creates nothing
  return withRegistryLock(stateDir, () =>
    readRecords(stateDir).filter((record) => {
      if (refreshRecord(stateDir, record) === "gone") return false;
      ensureReaper(stateDir, record);
      return true;
    }),
  );
}

/** A server's state in words: `starting`, `in use`, `kept`, `idle, stops in 42 s` or `stopping`. */
export function describeState(record: ServerRecord, now = Date.now()): string {
  if (record.state === "stopping" || record.state === "starting") return record.state;
  if (record.users.length > 0) return "in use";
  if (record.keep) return "kept";
  const remaining = idleRemainingMs(record, now);
  return remaining === undefined ? "idle" : `idle, stops in ${Math.max(0, Math.ceil(remaining / 1000))} s`;
}

export interface StoppedServer {
  record: ServerRecord;
  outcome: "stopped" | "killed" | "gone";
}

/**
 * Stops the managed servers `pick` selects (all at once, each SIGTERM then SIGKILL after
 * `graceMs`), with their reapers. Runs using one see it go down like any engine outage.
 */
export async function stopManagedServers(pick: (record: ServerRecord) => boolean, graceMs: number, env: Record<string, string | undefined> = process.env): Promise<StoppedServer[]> {
  const stateDir = stateDirectory(env);
  if (!existsSync(join(stateDir, "servers"))) return [];
  const targets = withRegistryLock(stateDir, () =>
    readRecords(stateDir)
      .filter((record) => refreshRecord(stateDir, record) === "alive" && pick(record))
      .map((record) => {
        record.state = "stopping";
        writeRecord(stateDir, record);
        return record;
      }),
  );
  return Promise.all(targets.map(async (record) => ({ record, outcome: await stopServer(stateDir, record, graceMs, "chainette-stream kill") })));
}

/** Server processes of this state directory that no record names (Linux: found through /proc). */
export function listUnregisteredServers(env: Record<string, string | undefined> = process.env): MarkedServer[] {
  const stateDir = stateDirectory(env);
  const registered = new Set(listManagedServers(env).map((record) => record.pid));
  return findMarkedServers(stateDir).filter((server) => !registered.has(server.pid));
}

/** Stops every unregistered server (`kill --all`): SIGTERM to its group, SIGKILL after `graceMs`. */
export async function stopUnregisteredServers(graceMs: number, env: Record<string, string | undefined> = process.env): Promise<{ server: MarkedServer; outcome: "stopped" | "killed" | "gone" }[]> {
  return Promise.all(listUnregisteredServers(env).map(async (server) => ({ server, outcome: await stopProcessGroup(server.pid, graceMs) })));
}
