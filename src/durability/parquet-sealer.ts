/**
 * `--format parquet`: every output folder writes JSONL into `<dir>/.staging/NNN.jsonl` exactly as
 * the JSONL format does (the ledger commits those bytes), and a staging shard that is complete (it
 * rolled, or the run ended) is sealed: its committed lines are read back, written as
 * `<dir>/NNN.parquet` (temporary name, fsync, rename, folder fsync), the ledger marks the shard
 * `sealed` (its `bytes` now the Parquet file's size, `crc` 0) in a durable commit, and only then is
 * the staging file deleted.
 * A crash between any two of those steps is repaired by `recoverShards` and `sealCommitted`.
 */
import { createReadStream, existsSync, readdirSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { crashPoint } from "../crash-points.js";
import { traceDurable, tracingDurable } from "../durable-trace.js";
import { ChainetteError } from "../errors.js";
import { jsonColumn, type ParquetColumn } from "../io/parquet-columns.js";
import { parquetValue } from "../io/parquet-schema.js";
import type { Ledger, ShardRecord } from "./ledger.js";
import type { ShardColumns } from "./parquet-shard-columns.js";
import { shardDamagedError } from "./shard-damaged.js";
import { shardFileName } from "./shard-writer.js";

/** The hidden folder of a Parquet output folder where its JSONL staging shards live. */
export const STAGING_FOLDER = ".staging";

export function stagingFolder(outDir: string, dir: string): string {
  return join(outDir, dir, STAGING_FOLDER);
}

export class ParquetSealer {
  constructor(private readonly outDir: string, private readonly ledger: Ledger, private readonly layouts: ReadonlyMap<string, ShardColumns>) {}

  /** Seals committed staging shards (each record as the ledger holds it), then marks them sealed. */
  async seal(shards: readonly ShardRecord[]): Promise<void> {
    const sealed: ShardRecord[] = [];
    for (const shard of shards) if (!shard.sealed && shard.lines > 0) sealed.push(await this.convert(shard));
    if (sealed.length === 0) return;
    crashPoint("seal-written");
    // Durable before the staging files go: a power cut must not leave a ledger that still says
    // "unsealed, read the staging file" when that file is gone.
    this.ledger.commit({ shards: sealed, rows: [], failures: [], counters: {}, nodes: new Map() }, { durable: true });
    crashPoint("seal-committed");
    for (const shard of sealed) {
      const staging = join(stagingFolder(this.outDir, shard.dir), shardFileName(shard.seq));
      if (existsSync(staging)) unlinkSync(staging);
      if (tracingDurable) traceDurable({ op: "unlink", file: staging });
    }
  }

  /**
   * Seals every committed shard not yet sealed. With `keepOpen` (a resume's start), the last shard
   * of each folder stays open when it has fewer than `keepOpen` lines: the run appends to it.
   */
  async sealCommitted(keepOpen?: number): Promise<void> {
    const committed = this.ledger.shards();
    const last = new Map(committed.map((shard) => [shard.dir, shard.seq]));
    await this.seal(committed.filter((shard) => !(keepOpen !== undefined && last.get(shard.dir) === shard.seq && shard.lines < keepOpen)));
  }

  /** Removes the staging folders that sealing emptied, so a finished folder lists only its shards. */
  removeEmptyStaging(dirs: readonly string[]): void {
    for (const dir of dirs) {
      const folder = stagingFolder(this.outDir, dir);
      if (existsSync(folder) && readdirSync(folder).length === 0) rmdirSync(folder);
    }
  }

  private async convert(shard: ShardRecord): Promise<ShardRecord> {
    // hyparquet-writer loads with the first seal: a JSONL run never pays for it.
    const { writeParquetShard } = await import("../io/parquet-writer.js");
    const staging = join(stagingFolder(this.outDir, shard.dir), shardFileName(shard.seq));
    const target = join(this.outDir, shard.dir, shardFileName(shard.seq, "parquet"));
    const layout = this.layouts.get(shard.dir);
    if (layout === undefined) throw new ChainetteError("LEDGER", `the ledger lists shards of \`${shard.dir}/\`, which this chain does not write; rerun with --fresh`);
    const { rows, keys } = await readCommittedLines(staging, shard);
    let columns = layout.columnsFor(keys);
    try {
      await writeParquetShard(target, rows, columns);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      // A value outside its schema type (an apply's outputModel with coercions, say): that column
      // holds JSON text in this shard rather than stopping a run that cannot get past it.
      columns = columns.map((column) => (rows.every((row) => fits(column, row[column.name])) ? column : jsonColumn(column.name)));
      await writeParquetShard(target, rows, columns);
    }
    return { ...shard, bytes: statSync(target).size, crc: 0, sealed: true };
  }
}

/** The first `shard.lines` lines (`shard.bytes` bytes) of a staging file, parsed, and every key seen. */
async function readCommittedLines(path: string, shard: ShardRecord): Promise<{ rows: Record<string, unknown>[]; keys: Set<string> }> {
  const rows: Record<string, unknown>[] = [];
  const keys = new Set<string>();
  const lines = createInterface({ input: createReadStream(path, { start: 0, end: shard.bytes - 1 }), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line === "") continue;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      lines.close();
      throw shardDamagedError(path, `has a line that is not JSON (line ${number}: ${(error as Error).message}) in the part the ledger committed`);
    }
    for (const key in row) keys.add(key);
    rows.push(row);
  }
  if (rows.length !== shard.lines) {
    throw shardDamagedError(path, `holds ${rows.length} lines in the part the ledger committed, which has ${shard.lines}`);
  }
  return { rows, keys };
}

function fits(column: ParquetColumn, value: unknown): boolean {
  try {
    parquetValue(column, value);
    return true;
  } catch {
    return false;
  }
}
