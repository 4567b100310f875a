/**
 * Before a resume writes anything: cut every shard back to the length the ledger committed, check
 * its checksum, and delete files the ledger never committed (a torn tail, an unsealed shard, a
 * temporary file). Afterwards the output folders hold exactly the committed rows.
 */
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { ChainetteError } from "../errors.js";
import type { ShardRecord } from "../ledger/ledger.js";

const SHARD_FILE = /^(\d+)\.(jsonl|parquet)$/;

export interface RecoveryReport {
  truncated: number;
  removed: number;
}

export function recoverShards(outDir: string, dirs: readonly string[], committed: readonly ShardRecord[]): RecoveryReport {
  const byFile = new Map(committed.map((shard) => [`${shard.dir}/${shard.seq}`, shard]));
  const report: RecoveryReport = { truncated: 0, removed: 0 };
  for (const dir of dirs) {
    const folder = join(outDir, dir);
    if (!existsSync(folder)) continue;
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      const match = SHARD_FILE.exec(name);
      const shard = match ? byFile.get(`${dir}/${Number(match[1])}`) : undefined;
      if (shard === undefined) {
        if (match || name.endsWith(".tmp")) {
          unlinkSync(path);
          report.removed++;
        }
        continue;
      }
      const size = statSync(path).size;
      if (size < shard.bytes) {
        throw new ChainetteError("LEDGER", `${path} has ${size} bytes but the ledger committed ${shard.bytes}: the file lost committed data; rerun with --fresh`);
      }
      if (size > shard.bytes) {
        truncateSync(path, shard.bytes);
        report.truncated++;
      }
      if (!shard.sealed && crc32(readFileSync(path)) !== shard.crc) {
        throw new ChainetteError("LEDGER", `${path} does not match the checksum the ledger committed: the file was changed outside chainette-stream; rerun with --fresh`);
      }
    }
  }
  for (const shard of committed) {
    if (!existsSync(join(outDir, shard.dir))) {
      throw new ChainetteError("LEDGER", `the ledger lists ${shard.dir}/ shards but the folder is gone; rerun with --fresh`);
    }
  }
  return report;
}
