/**
 * Writes one Parquet shard, sealed atomically: the rows go to `path + ".tmp"` (hyparquet-writer,
 * Snappy pages, which pandas, DuckDB, Spark and the Hub all read), the file is fsync'd, renamed to
 * `path`, and the folder fsync'd, so a crash leaves either no shard or a complete one. The columns'
 * kinds go in the file's key-value metadata (`PARQUET_COLUMNS_KEY`), so a reader (the viewer) gets
 * back the JSON record each row came from.
 */
import { open, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { fileWriter, parquetWrite } from "hyparquet-writer";
import { traceDurable, tracingDurable } from "../durable-trace.js";
import type { ParquetColumn } from "./parquet-columns.js";
import { PARQUET_COLUMNS_KEY } from "./parquet-record.js";
import { parquetSchemaElements, parquetValue } from "./parquet-schema.js";

export interface WriteParquetShardOptions {
  /** Rows per row group; readers skip whole row groups on resume. @default 100_000 */
  rowGroupSize?: number;
  /**
   * Bytes of values per data page (a column chunk of several pages gets an offset index). Small
   * pages let a reader of a few rows (the viewer) decode only those rows' pages; Parquet's own
   * guidance is 8 KB. @default 16_384
   */
  pageSize?: number;
}

export async function writeParquetShard(
  path: string,
  rows: readonly Record<string, unknown>[],
  columns: readonly ParquetColumn[],
  options: WriteParquetShardOptions = {},
): Promise<void> {
  if (rows.length === 0) throw new TypeError(`${path}: a shard needs at least one row (no empty shards)`);
  const columnData = columns.map((column) => {
    const data = new Array<unknown>(rows.length);
    for (let index = 0; index < rows.length; index++) {
      const row = rows[index] as Record<string, unknown>;
      try {
        data[index] = parquetValue(column, row[column.name]);
      } catch (error) {
        throw new TypeError(`${path}: row ${JSON.stringify(row.row_id ?? index)}: ${(error as Error).message}`, { cause: error });
      }
    }
    return { name: column.name, data };
  });
  const temporary = `${path}.tmp`;
  await parquetWrite({
    writer: fileWriter(temporary),
    columnData,
    schema: parquetSchemaElements(columns),
    codec: "SNAPPY",
    rowGroupSize: options.rowGroupSize ?? 100_000,
    pageSize: options.pageSize ?? 16_384,
    kvMetadata: [{ key: PARQUET_COLUMNS_KEY, value: JSON.stringify(columns) }],
  });
  await fsyncPath(temporary, "r+");
  await rename(temporary, path);
  if (tracingDurable) traceDurable({ op: "rename", from: temporary, file: path });
  await fsyncPath(dirname(path), "r");
}

async function fsyncPath(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
    if (tracingDurable) traceDurable(flags === "r" ? { op: "fsync-dir", file: path } : { op: "fsync", file: path, length: (await handle.stat()).size });
  } finally {
    await handle.close();
  }
}
