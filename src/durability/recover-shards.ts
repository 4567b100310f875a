/**
 * Before a resume writes anything: cut every shard back to the length the ledger committed, check
 * its checksum, and delete files the ledger never committed (a torn tail, an unsealed shard, a
 * temporary file). Afterwards the output folders hold exactly the committed rows.
 *
 * With `--format parquet` the JSONL shards live in `<dir>/.staging/` and are recovered the same
 * way; a staging file whose shard the ledger marks sealed is a leftover (deleted), and a `.parquet`
 * the ledger does not mark sealed is one a crash cut short of the ledger (deleted: `sealCommitted`
 * writes it again from its staging file).
 *
 * A committed shard that is missing, shorter than committed or fails its checksum is damaged: the
 * resume is refused naming it, unless `repair` is set; then the damaged shards are returned (for
 * `repairShards`, which makes the run redo exactly the rows they held).
 */
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { crashPoint } from "../crash-points.js";
import { traceDurable, tracingDurable } from "../durable-trace.js";
import { ChainetteError } from "../errors.js";
import type { ShardRecord } from "./ledger.js";
import { STAGING_FOLDER } from "./parquet-sealer.js";
import { shardFileName } from "./shard-writer.js";

const SHARD_FILE = /^(\d+)\.(jsonl|parquet)$/;

export interface RecoveryReport {
  truncated: number;
  removed: number;
  /** Committed shards that are gone or changed (only with `repair`; otherwise they are refused). */
  damaged: DamagedShard[];
}

export interface DamagedShard {
  shard: ShardRecord;
  path: string;
  /** What is wrong with it, e.g. `the file is gone`. */
  problem: string;
}

export function recoverShards(outDir: string, dirs: readonly string[], committed: readonly ShardRecord[], format: "jsonl" | "parquet" = "jsonl", options: { repair?: boolean } = {}): RecoveryReport {
  const byFile = new Map(committed.map((shard) => [`${shard.dir}/${shard.seq}`, shard]));
  const report: RecoveryReport = { truncated: 0, removed: 0, damaged: [] };
  for (const dir of dirs) {
    const folder = join(outDir, dir);
    if (!existsSync(folder)) continue;
    if (format === "jsonl") {
      recoverFolder(folder, (seq) => byFile.get(`${dir}/${seq}`), "jsonl", report);
    } else {
      recoverFolder(join(folder, STAGING_FOLDER), (seq) => unsealed(byFile.get(`${dir}/${seq}`)), "jsonl", report);
      recoverFolder(folder, (seq) => sealed(byFile.get(`${dir}/${seq}`)), "parquet", report);
    }
  }
  for (const shard of committed) {
    const path = committedPath(outDir, shard, format);
    if (!existsSync(path)) report.damaged.push({ shard, path, problem: `the ledger committed ${shard.lines} lines in it but the file is gone` });
  }
  if (report.damaged.length > 0 && options.repair !== true) throw damagedError(report.damaged, format);
  return report;
}

/** Refuses a resume over damaged shards, naming them and the way out. */
function damagedError(damaged: readonly DamagedShard[], format: "jsonl" | "parquet"): ChainetteError {
  const listed = damaged.slice(0, 5).map(({ path, problem }) => `  - ${path}: ${problem}`);
  if (damaged.length > 5) listed.push(`  - and ${damaged.length - 5} more`);
  const remedy = format === "jsonl"
    ? "The same command cannot resume past it: run it with --repair to redo exactly the rows those shards held, or with --fresh to discard the run and start over."
    : "The same command cannot resume past it, and --repair works on --format jsonl runs only: rerun with --fresh.";
  return new ChainetteError("SHARD_DAMAGED", `${damaged.length === 1 ? "a committed shard is" : `${damaged.length} committed shards are`} damaged or missing:\n${listed.join("\n")}\n${remedy}`);
}

/**
 * Keeps, in one folder, the shard files of `extension` that `committedShard` names (cut back to
 * their committed length and checked), and deletes every other shard file and temporary file.
 */
function recoverFolder(folder: string, committedShard: (seq: number) => ShardRecord | undefined, extension: "jsonl" | "parquet", report: RecoveryReport): void {
  const damaged = (shard: ShardRecord, path: string, problem: string): void => void report.damaged.push({ shard, path, problem });
  if (!existsSync(folder)) return;
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    const match = SHARD_FILE.exec(name);
    const shard = match && match[2] === extension ? committedShard(Number(match[1])) : undefined;
    if (shard === undefined) {
      if (match || name.endsWith(".tmp")) {
        unlinkSync(path);
        if (tracingDurable) traceDurable({ op: "unlink", file: path });
        report.removed++;
      }
      continue;
    }
    const size = statSync(path).size;
    if (shard.sealed) {
      if (size !== shard.bytes) damaged(shard, path, `it has ${size} bytes but the ledger sealed it at ${shard.bytes} (changed outside chainette-stream)`);
      continue;
    }
    if (size < shard.bytes) {
      damaged(shard, path, `it has ${size} bytes but the ledger committed ${shard.bytes} (it lost committed data)`);
      continue;
    }
    if (size > shard.bytes) {
      truncateSync(path, shard.bytes);
      if (tracingDurable) traceDurable({ op: "truncate", file: path, length: shard.bytes });
      crashPoint("recovery-truncated");
      report.truncated++;
    }
    if (crc32(readFileSync(path)) !== shard.crc) damaged(shard, path, "it does not match the checksum the ledger committed (changed outside chainette-stream)");
  }
}

/** Where a committed shard's rows are: its JSONL file, its staging file, or its sealed Parquet file. */
function committedPath(outDir: string, shard: ShardRecord, format: "jsonl" | "parquet"): string {
  if (format === "jsonl") return join(outDir, shard.dir, shardFileName(shard.seq));
  if (shard.sealed) return join(outDir, shard.dir, shardFileName(shard.seq, "parquet"));
  return join(outDir, shard.dir, STAGING_FOLDER, shardFileName(shard.seq));
}

function sealed(shard: ShardRecord | undefined): ShardRecord | undefined {
  return shard?.sealed ? shard : undefined;
}

function unsealed(shard: ShardRecord | undefined): ShardRecord | undefined {
  return shard?.sealed ? undefined : shard;
}
