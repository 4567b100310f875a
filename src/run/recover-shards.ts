/**
 * Before a resume writes anything: cut every shard back to the length the ledger committed, check
 * its checksum, and delete files the ledger never committed (a torn tail, an unsealed shard, a
 * temporary file). Afterwards the output folders hold exactly the committed rows.
 *
 * With `--format parquet` the JSONL shards live in `<dir>/.staging/` and are recovered the same
 * way; a staging file whose shard the ledger marks sealed is a leftover (deleted), and a `.parquet`
 * the ledger does not mark sealed is one a crash cut short of the ledger (deleted: `sealCommitted`
 * writes it again from its staging file).
 */
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { crashPoint } from "../crash-points.js";
import { traceDurable, tracingDurable } from "../durable-trace.js";
import { ChainetteError } from "../errors.js";
import type { ShardRecord } from "../ledger/ledger.js";
import { STAGING_FOLDER } from "./parquet-sealer.js";
import { shardFileName } from "./shard-writer.js";

const SHARD_FILE = /^(\d+)\.(jsonl|parquet)$/;

export interface RecoveryReport {
  truncated: number;
  removed: number;
}

export function recoverShards(outDir: string, dirs: readonly string[], committed: readonly ShardRecord[], format: "jsonl" | "parquet" = "jsonl"): RecoveryReport {
  const byFile = new Map(committed.map((shard) => [`${shard.dir}/${shard.seq}`, shard]));
  const report: RecoveryReport = { truncated: 0, removed: 0 };
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
    if (!existsSync(join(outDir, shard.dir))) {
      throw new ChainetteError("LEDGER", `the ledger lists ${shard.dir}/ shards but the folder is gone; rerun with --fresh`);
    }
    const path = committedPath(outDir, shard, format);
    if (!existsSync(path)) {
      throw new ChainetteError("LEDGER", `the ledger committed ${shard.lines} lines in ${path} but the file is gone; rerun with --fresh`);
    }
  }
  return report;
}

/**
 * Keeps, in one folder, the shard files of `extension` that `committedShard` names (cut back to
 * their committed length and checked), and deletes every other shard file and temporary file.
 */
function recoverFolder(folder: string, committedShard: (seq: number) => ShardRecord | undefined, extension: "jsonl" | "parquet", report: RecoveryReport): void {
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
      if (size !== shard.bytes) throw new ChainetteError("LEDGER", `${path} has ${size} bytes but the ledger sealed it at ${shard.bytes}: the file was changed outside chainette-stream; rerun with --fresh`);
      continue;
    }
    if (size < shard.bytes) {
      throw new ChainetteError("LEDGER", `${path} has ${size} bytes but the ledger committed ${shard.bytes}: the file lost committed data; rerun with --fresh`);
    }
    if (size > shard.bytes) {
      truncateSync(path, shard.bytes);
      if (tracingDurable) traceDurable({ op: "truncate", file: path, length: shard.bytes });
      crashPoint("recovery-truncated");
      report.truncated++;
    }
    if (crc32(readFileSync(path)) !== shard.crc) {
      throw new ChainetteError("LEDGER", `${path} does not match the checksum the ledger committed: the file was changed outside chainette-stream; rerun with --fresh`);
    }
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
