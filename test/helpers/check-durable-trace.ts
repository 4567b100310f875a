/**
 * Reads a `CHAINETTE_DURABLE_TRACE` file and checks the commit protocol's order on it:
 *  - every shard length a ledger change records was fdatasync'd/fsync'd (at that length or more),
 *    and the file's name made durable by a folder fsync, before the change committed;
 *  - no write, truncate, unlink or rename touches bytes or files the durable ledger still lists
 *    (so a file a ledger change replaced is only deleted once that change is durable);
 *  - a rerun's `discard` (its marker durable) ends what the OUTDIR's ledger lists: the new run's
 *    shards start from nothing.
 * A trace may span several sessions (crashes and resumes append to the same file).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DurableStep, TracedShard } from "../../src/durable-trace.js";
import { STAGING_FOLDER } from "../../src/durability/parquet-sealer.js";
import { shardFileName } from "../../src/durability/shard-writer.js";

export type TraceEvent = DurableStep & { pid: number };

/**
 * When a committed ledger change counts as durable. Today every commit does (WAL with
 * `synchronous=NORMAL`: docs/resume.md, Caveats). Once `ledger.makeDurable()` traces
 * `ledger-durable`, this becomes `"ledger-durable"`: deletes must then wait for it.
 */
const LEDGER_DURABLE_AT: "commit" | "ledger-durable" = "ledger-durable";

export function readTrace(path: string): TraceEvent[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as TraceEvent);
}

/** How many times each crash point was passed (per trace: run it on one session's trace to aim a crash). */
export function pointPasses(events: readonly TraceEvent[]): Map<string, number> {
  const passes = new Map<string, number>();
  for (const event of events) if (event.op === "point") passes.set(event.name, (passes.get(event.name) ?? 0) + 1);
  return passes;
}

/** The file a traced ledger shard record names. */
function shardPath(ledger: string, format: "jsonl" | "parquet", shard: TracedShard): string {
  const outDir = dirname(ledger);
  if (format === "jsonl") return join(outDir, shard.dir, shardFileName(shard.seq));
  if (shard.sealed) return join(outDir, shard.dir, shardFileName(shard.seq, "parquet"));
  return join(outDir, shard.dir, STAGING_FOLDER, shardFileName(shard.seq));
}

/** The protocol violations in a trace, in order, each with the index of its event; empty when it holds. */
export function durableTraceViolations(events: readonly TraceEvent[], format: "jsonl" | "parquet"): string[] {
  const violations: string[] = [];
  /** Bytes of each file known to be on disk after a power cut. */
  const synced = new Map<string, number>();
  /** Files whose name is not yet durable (created or renamed since their folder's last fsync). */
  const nameNotDurable = new Set<string>();
  /** What the durable ledger lists: file -> committed bytes. */
  const durable = new Map<string, number>();
  /** Changes committed but not yet durable (LEDGER_DURABLE_AT = "ledger-durable"). */
  let waiting: (() => void)[] = [];

  const checkRecorded = (index: number, ledger: string, shards: readonly TracedShard[]): void => {
    for (const shard of shards) {
      const file = shardPath(ledger, format, shard);
      const length = synced.get(file) ?? 0;
      if (length < shard.bytes) violations.push(`#${index}: the ledger recorded ${file} at ${shard.bytes} bytes, but only ${length} were synced before`);
      if (nameNotDurable.has(file)) violations.push(`#${index}: the ledger recorded ${file} before its folder was fsync'd after the file was created`);
    }
  };
  const record = (ledger: string, shard: TracedShard): void => {
    if (shard.sealed) durable.delete(join(dirname(ledger), shard.dir, STAGING_FOLDER, shardFileName(shard.seq)));
    durable.set(shardPath(ledger, format, shard), shard.bytes);
  };
  const change = (apply: () => void): void => {
    if (LEDGER_DURABLE_AT === "commit") apply();
    else waiting.push(apply);
  };

  events.forEach((event, index) => {
    switch (event.op) {
      case "write": {
        const committed = durable.get(event.file);
        if (committed !== undefined && event.offset < committed) violations.push(`#${index}: wrote ${event.file} from byte ${event.offset}, inside its ${committed} committed bytes`);
        if (event.offset === 0) nameNotDurable.add(event.file);
        synced.set(event.file, Math.min(synced.get(event.file) ?? 0, event.offset));
        break;
      }
      case "fdatasync":
      case "fsync":
        synced.set(event.file, Math.max(synced.get(event.file) ?? 0, event.length));
        break;
      case "fsync-dir":
        for (const file of nameNotDurable) if (dirname(file) === event.file) nameNotDurable.delete(file);
        break;
      case "ledger-commit":
        checkRecorded(index, event.ledger, event.shards);
        change(() => event.shards.forEach((shard) => record(event.ledger, shard)));
        break;
      case "ledger-swap":
        checkRecorded(index, event.ledger, event.shards);
        change(() => {
          for (const file of [...durable.keys()]) if (event.dirs.some((dir) => dirname(file) === join(dirname(event.ledger), dir))) durable.delete(file);
          event.shards.forEach((shard) => record(event.ledger, shard));
        });
        break;
      case "ledger-durable":
        for (const apply of waiting) apply();
        waiting = [];
        break;
      case "truncate": {
        const committed = durable.get(event.file);
        if (committed !== undefined && event.length < committed) violations.push(`#${index}: cut ${event.file} to ${event.length} bytes, below its ${committed} committed bytes`);
        synced.set(event.file, Math.min(synced.get(event.file) ?? 0, event.length));
        break;
      }
      case "unlink":
        if (durable.has(event.file)) violations.push(`#${index}: deleted ${event.file}, which the durable ledger still lists`);
        synced.delete(event.file);
        nameNotDurable.delete(event.file);
        break;
      case "rename":
        if (durable.has(event.file)) violations.push(`#${index}: renamed ${event.from} over ${event.file}, which the durable ledger lists`);
        synced.set(event.file, synced.get(event.from) ?? 0);
        synced.delete(event.from);
        nameNotDurable.delete(event.from);
        nameNotDurable.add(event.file);
        break;
      case "discard": {
        const outDir = dirname(event.ledger);
        waiting = [];
        for (const file of [...durable.keys()]) if (file.startsWith(`${outDir}/`)) durable.delete(file);
        for (const file of [...synced.keys()]) if (file.startsWith(`${outDir}/`)) synced.delete(file);
        break;
      }
      case "point":
        break;
    }
  });
  return violations;
}
