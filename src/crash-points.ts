/**
 * Crash points: named places in the commit protocol where a test can make the process die as a
 * power cut or `kill -9` would, at an exact step rather than at a wall-clock moment.
 * `CHAINETTE_CRASH_AT=<name>[:<n>]` makes the n-th pass (default 1) through `crashPoint(name)`
 * SIGKILL the process. The variable is read once, at load; unset, a call is one comparison.
 * Where each point sits: docs/resume.md, "Invariants the tests check".
 */
import { ChainetteError } from "./errors.js";
import { traceDurable, tracingDurable } from "./durable-trace.js";

export const CRASH_POINTS = [
  /** A shard's bytes are written (page cache), before any sync. */
  "shard-written",
  /** A commit's shard bytes are fdatasync'd, before the ledger transaction. */
  "shard-synced",
  /** Inside the ledger's commit transaction: its statements ran, COMMIT has not. */
  "ledger-in-transaction",
  /** The ledger transaction committed (shards sealed and events not yet done). */
  "ledger-committed",
  /** `--format parquet`: the Parquet file is written, before the ledger marks the shard sealed. */
  "seal-written",
  /** `--format parquet`: the ledger marks the shard sealed, before its staging file is deleted. */
  "seal-committed",
  /** `--retry-errors`: the rewritten shards are written, before the ledger swaps the shard lists. */
  "retry-written",
  /** `--retry-errors`: the ledger swapped the shard lists, before the old files are deleted. */
  "retry-swapped",
  /** A rerun after a chain change: `rerun.json` marks the discard of the earlier results, nothing is removed yet. */
  "rerun-marked",
  /** A rerun: one more of the earlier results' files or folders is removed (pass n: the n-th), others are still there. */
  "rerun-discarding",
  /** A rerun: the earlier results are removed, the new ledger does not exist yet and the marker is still there. */
  "rerun-discarded",
  /** Resume recovery: a shard was cut back to its committed length. */
  "recovery-truncated",
  /** `graph.json` (first pass) or `summary.json` (last pass): the temporary file is written, not renamed. */
  "json-temp-written",
] as const;

/** Points in `merge` (job/merge-shards.ts), outside a run's commit protocol: test/scale/merge-shards.test.ts. */
export const MERGE_CRASH_POINTS = [
  /** Every merged file is linked into `OUTDIR/.merge/`, nothing renamed into OUTDIR yet. */
  "merge-linked",
  /** A merged folder was renamed into OUTDIR (pass n: the n-th folder), `summary.json` not written. */
  "merge-swapped",
] as const;

export type CrashPointName = (typeof CRASH_POINTS)[number] | (typeof MERGE_CRASH_POINTS)[number];

const ALL_POINTS: readonly string[] = [...CRASH_POINTS, ...MERGE_CRASH_POINTS];

interface CrashTarget {
  name: CrashPointName;
  at: number;
  passes: number;
}

function parseCrashAt(value: string | undefined): CrashTarget | undefined {
  if (value === undefined || value === "") return undefined;
  const match = /^([a-z-]+)(?::(\d+))?$/.exec(value);
  const name = match?.[1] as CrashPointName | undefined;
  const at = Number(match?.[2] ?? 1);
  if (name === undefined || !ALL_POINTS.includes(name) || at < 1) {
    throw new ChainetteError("USAGE", `Expected \`CHAINETTE_CRASH_AT\` to be <point>[:<n>] with a point among ${ALL_POINTS.join(", ")} and n >= 1, got \`${value}\``);
  }
  return { name, at, passes: 0 };
}

const target = parseCrashAt(process.env.CHAINETTE_CRASH_AT);

/** Dies by SIGKILL here when `CHAINETTE_CRASH_AT` names this point and this is its n-th pass. */
export function crashPoint(name: CrashPointName): void {
  if (tracingDurable) traceDurable({ op: "point", name });
  if (target === undefined || target.name !== name) return;
  if (++target.passes === target.at) process.kill(process.pid, "SIGKILL");
}
