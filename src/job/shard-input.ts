/**
 * The rows one shard runs, fixed when the shard's run folder is created and kept in its ledger
 * (`meta.shard`) so a resume never splits or counts differently. JSONL: part i of N by bytes, at
 * line starts; its first row_id is the number of rows before it, which the shards count together:
 * each counts its own byte range and publishes the count under `OUTDIR/shards/row-counts/`, and a
 * shard sums the counts of the ranges before its own, counting any that nobody has published yet.
 * Parquet and Arrow: whole row groups (files for Arrow), by the row their first row has in the
 * input, from the metadata alone.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Ledger } from "../durability/ledger.js";
import { ChainetteError } from "../errors.js";
import { countRowsInRange, jsonlByteRange, type ByteRange } from "../io/jsonl-byte-ranges.js";
import { RowRangeSource } from "../io/row-range-source.js";
import type { InputFingerprint, Source } from "../io/source.js";
import { SHARDS_FOLDER, type ShardSpec } from "./shard-spec.js";

/** What a shard's ledger records about its part of the input (`meta.shard`). */
export interface ShardMeta extends ShardSpec {
  /** Global row_id of the shard's first row, and one past its last. */
  firstRow: number;
  endRow: number;
  /** JSONL: the shard's lines start in `[byteStart, byteEnd)`. */
  byteStart?: number;
  byteEnd?: number;
  /** Parquet and Arrow: rows in the whole input (from the metadata), which the shards must cover. */
  inputRows?: number;
}

export const SHARD_META = "shard";
export const ROW_COUNTS_FOLDER = "row-counts";

/** The shard's source over `base` (the whole input), splitting it on the shard's first run. */
export async function openShardSource(base: Source, input: InputFingerprint, shard: ShardSpec, ledger: Ledger, jobDir: string): Promise<{ source: Source; meta: ShardMeta }> {
  let meta = ledger.getMeta<ShardMeta>(SHARD_META);
  if (meta === undefined) {
    meta = await splitInput(base, input, shard, join(jobDir, SHARDS_FOLDER, ROW_COUNTS_FOLDER));
    ledger.setMeta(SHARD_META, meta);
    ledger.checkpoint();
  }
  const range = { firstRow: meta.firstRow, endRow: meta.endRow, ...(meta.byteStart === undefined ? {} : { byteStart: meta.byteStart }) };
  return { source: new RowRangeSource(base, range), meta };
}

async function splitInput(base: Source, input: InputFingerprint, shard: ShardSpec, countsDir: string): Promise<ShardMeta> {
  const units = base.rowUnits?.();
  if (units !== undefined) return { ...shard, ...unitRange(units, shard), inputRows: units.reduce((sum, rows) => sum + rows, 0) };
  const file = input.files[0];
  if (input.format !== "jsonl" || input.files.length !== 1 || file === undefined) {
    throw new ChainetteError(
      "USAGE",
      `--shard splits a plain .jsonl file, Parquet or Arrow input; ${input.path} is ${input.files.length === 0 ? "a pipe or stdin" : input.format} (decompress it, or convert it to JSONL or Parquet, first)`,
    );
  }
  const ranges: ByteRange[] = [];
  for (let index = 0; index <= shard.index; index++) ranges.push(await jsonlByteRange(file.path, file.size, index, shard.count));
  const own = ranges[shard.index] as ByteRange;
  // Our own range first, published at once: the shards that start with us find it there.
  const rows = await publishedCount(file, own, countsDir);
  let firstRow = 0;
  for (const range of ranges.slice(0, shard.index)) firstRow += await publishedCount(file, range, countsDir);
  return { ...shard, firstRow, endRow: firstRow + rows, byteStart: own.start, byteEnd: own.end };
}

/**
 * Part i of N of an input made of units (row groups, files): the units whose first row r has
 * `i*total/N <= r < (i+1)*total/N`, so parts are even in rows as far as the units allow.
 */
export function unitRange(units: readonly number[], shard: ShardSpec): { firstRow: number; endRow: number } {
  const total = units.reduce((sum, rows) => sum + rows, 0);
  const boundary = (part: number): number => {
    if (part >= shard.count) return total;
    let row = 0;
    for (const rows of units) {
      if (row * shard.count >= part * total) return row;
      row += rows;
    }
    return total;
  };
  return { firstRow: boundary(shard.index), endRow: boundary(shard.index + 1) };
}

interface PublishedCount {
  size: number;
  sample: string;
  start: number;
  end: number;
  rows: number;
}

/** The rows of `range`, from a count another shard published for this very file, or counted now and published. */
async function publishedCount(file: InputFingerprint["files"][number], range: ByteRange, countsDir: string): Promise<number> {
  const path = join(countsDir, `${range.start}-${range.end}.json`);
  if (existsSync(path)) {
    try {
      const published = JSON.parse(readFileSync(path, "utf8")) as PublishedCount;
      if (published.size === file.size && published.sample === file.sample && published.start === range.start && published.end === range.end && Number.isInteger(published.rows)) return published.rows;
    } catch {
      // unreadable (a filesystem without atomic renames, a hand-edited file): count the range again
    }
  }
  const rows = await countRowsInRange(file.path, range);
  const count: PublishedCount = { size: file.size, sample: file.sample, start: range.start, end: range.end, rows };
  mkdirSync(countsDir, { recursive: true });
  // A name of our own for the temporary file: several shards may publish the same range at once.
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(count)}\n`);
  renameSync(temporary, path);
  return rows;
}
