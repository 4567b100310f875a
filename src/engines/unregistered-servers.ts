/**
 * Managed servers the registry lost (its files deleted by hand, a disk that lost the last write):
 * every `vllm serve` the broker spawns carries `CHAINETTE_MANAGED_SERVER=STATE_DIR#ID` in its
 * environment, so `kill --all` can still find it by reading `/proc/PID/environ` of this user's
 * processes. Linux only (elsewhere nothing is found); only process-group leaders are returned, as
 * a server is stopped through its group.
 */
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

const MARKER = "CHAINETTE_MANAGED_SERVER";

/** The environment variable that marks a server of `stateDir`. */
export function serverMarker(stateDir: string, id: string): Record<string, string> {
  return { [MARKER]: `${resolve(stateDir)}#${id}` };
}

export interface MarkedServer {
  pid: number;
  id: string;
}

/** Group leaders marked as servers of `stateDir`, registered or not. */
export function findMarkedServers(stateDir: string): MarkedServer[] {
  const prefix = `${MARKER}=${resolve(stateDir)}#`;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const found: MarkedServer[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z" || Number(fields[2]) !== pid) continue; // a zombie, or not a group leader
      const variable = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").find((pair) => pair.startsWith(prefix));
      if (variable !== undefined) found.push({ pid, id: variable.slice(prefix.length) });
    } catch {
      // gone meanwhile, or another user's process
    }
  }
  return found;
}
