/**
 * A record of the order of durable operations, for the tests that prove the commit protocol:
 * `CHAINETTE_DURABLE_TRACE=<file>` appends one JSON line per step (shard bytes written, a file or
 * folder synced, a ledger transaction committed with the shard lengths it records, a truncate,
 * unlink or rename) to that file, synchronously, after the step has happened. The variable is
 * read once, at load; unset, callers test `tracingDurable` and build nothing.
 */
import { appendFileSync, openSync } from "node:fs";

/** A shard as a ledger change records it (`bytes`: its committed length). */
export interface TracedShard {
  dir: string;
  seq: number;
  bytes: number;
  sealed: boolean;
}

export type DurableStep =
  /** Bytes `offset` to `length` of `file` were written (to the page cache). */
  | { op: "write"; file: string; offset: number; length: number }
  /** `file` was fdatasync'd or fsync'd, with at least `length` bytes. */
  | { op: "fdatasync" | "fsync"; file: string; length: number }
  /** A folder was fsync'd: the names created or renamed in it are durable. */
  | { op: "fsync-dir"; file: string }
  /** A ledger transaction committed these shard records (`ledger`: the ledger file). */
  | { op: "ledger-commit"; ledger: string; shards: TracedShard[] }
  /** `--retry-errors`: a transaction replaced the shard lists of `dirs` with `shards`. */
  | { op: "ledger-swap"; ledger: string; dirs: string[]; shards: TracedShard[] }
  /** Committed ledger changes were made durable (an explicit sync of the ledger). */
  | { op: "ledger-durable"; ledger: string }
  | { op: "truncate"; file: string; length: number }
  | { op: "unlink"; file: string }
  | { op: "rename"; from: string; file: string }
  /**
   * A rerun's marker (`rerun.json`) is durable: the run of this ledger is discarded, whatever it
   * lists may be deleted (a kill from here on makes the next run finish the discard).
   */
  | { op: "discard"; ledger: string }
  /** A crash point was passed (see `crash-points.ts`): tests count passes to aim a crash mid-run. */
  | { op: "point"; name: string };

const traceFile = process.env.CHAINETTE_DURABLE_TRACE;
const traceFd = traceFile === undefined || traceFile === "" ? undefined : openSync(traceFile, "a");

/** Whether `CHAINETTE_DURABLE_TRACE` is set: test it before building a step. */
export const tracingDurable = traceFd !== undefined;

/** Appends one step to the trace (a no-op when tracing is off). */
export function traceDurable(step: DurableStep): void {
  if (traceFd !== undefined) appendFileSync(traceFd, `${JSON.stringify({ pid: process.pid, ...step })}\n`);
}
