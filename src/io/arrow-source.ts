/**
 * Arrow IPC input (stream or file format; one file or several, e.g. a `datasets` save_to_disk
 * folder), record batch by record batch. A resume skips whole files by their scanned batch lengths
 * and whole batches without converting their rows. As for Parquet, only a file whose schema nests
 * deeper than `MAX_NESTING_DEPTH` has its rows walked, and one nested too deeply is a row error.
 */
import { createReadStream } from "node:fs";
import { RecordBatchReader, type Field, type Schema } from "apache-arrow";
import { MAX_NESTING_DEPTH } from "../core/nesting-depth.js";
import { scanArrowFile } from "./arrow-file-scan.js";
import { schemaConverters, type ValueConverter } from "./arrow-values.js";
import { inputReadError } from "./byte-stream.js";
import { deepRow } from "./deep-row.js";
import { fingerprintFiles } from "./input-fingerprint.js";
import type { InputFingerprint, Source, SourcePosition, SourceRow } from "./source.js";

interface ArrowFile {
  path: string;
  rows: number;
  columns: string[];
}

export class ArrowSource implements Source {
  readonly format = "arrow";
  readonly #input: string;
  readonly #files: ArrowFile[];
  readonly #columns: string[] | undefined;

  private constructor(input: string, files: ArrowFile[], columns: string[] | undefined) {
    this.#input = input;
    this.#files = files;
    this.#columns = columns;
  }

  static async open(input: string, paths: readonly string[], columns?: string[]): Promise<ArrowSource> {
    const files: ArrowFile[] = [];
    for (const path of paths) {
      try {
        const scan = await scanArrowFile(path);
        const rows = scan.batchLengths.reduce((sum, length) => sum + length, 0);
        files.push({ path, rows, columns: scan.schema.fields.map((field) => field.name) });
      } catch (error) {
        throw inputReadError(path, "Arrow IPC (stream or file format)", error);
      }
    }
    return new ArrowSource(input, files, columns);
  }

  columnNames(): string[] {
    return this.#files[0]?.columns ?? [];
  }

  totalRows(): Promise<number | undefined> {
    return Promise.resolve(this.#files.reduce((sum, file) => sum + file.rows, 0));
  }

  /** Files: a resume skips whole files by their scanned lengths. */
  rowUnits(): number[] {
    return this.#files.map((file) => file.rows);
  }

  fingerprint(): Promise<InputFingerprint> {
    return fingerprintFiles(this.#input, this.format, this.#files.map((file) => file.path));
  }

  async *read(from: SourcePosition, options: { batchSize: number; signal?: AbortSignal }): AsyncGenerator<SourceRow[]> {
    let index = 0;
    for (const file of this.#files) {
      if (index + file.rows <= from.row) {
        index += file.rows;
        continue;
      }
      const fileStart = index;
      try {
        const reader = await (await RecordBatchReader.from(createReadStream(file.path, { highWaterMark: 1024 * 1024 }))).open();
        const wanted = new Set(this.#columns ?? file.columns);
        const converters = schemaConverters(reader.schema)
          .map((converter, position) => ({ ...converter, position }))
          .filter((converter) => wanted.has(converter.name));
        const deep = schemaDepth(reader.schema) > MAX_NESTING_DEPTH;
        for await (const recordBatch of reader) {
          const batchStart = index;
          index += recordBatch.numRows;
          if (index <= from.row) continue;
          const columns = converters.map((converter) => ({
            name: converter.name,
            convert: converter.convert,
            vector: recordBatch.getChildAt(converter.position),
          }));
          let batch: SourceRow[] = [];
          for (let row = Math.max(0, from.row - batchStart); row < recordBatch.numRows; row++) {
            batch.push(deep ? deepRow(batchStart + row, () => rowValue(columns, row), `row ${batchStart + row - fileStart} of ${file.path}`) : { index: batchStart + row, value: rowValue(columns, row) });
            if (batch.length >= options.batchSize) {
              yield batch;
              batch = [];
              if (options.signal?.aborted === true) return;
            }
          }
          if (batch.length > 0) yield batch;
        }
      } catch (error) {
        throw inputReadError(file.path, "Arrow IPC", error);
      }
    }
  }
}

function rowValue(
  columns: { name: string; convert: ValueConverter; vector: { get(index: number): unknown } | null }[],
  row: number,
): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const column of columns) value[column.name] = column.convert(column.vector?.get(row) ?? null);
  return value;
}

/** Levels of nested types in an Arrow schema, the row being 1 (a struct or list adds one): no row nests deeper. */
function schemaDepth(schema: Schema): number {
  let deepest = 1;
  const pending: { fields: readonly Field[]; depth: number }[] = [{ fields: schema.fields, depth: 1 }];
  for (let entry = pending.pop(); entry !== undefined; entry = pending.pop()) {
    deepest = Math.max(deepest, entry.depth);
    for (const field of entry.fields) {
      const children = (field.type as { children?: Field[] | null }).children;
      if (children !== undefined && children !== null && children.length > 0) pending.push({ fields: children, depth: entry.depth + 1 });
    }
  }
  return deepest;
}
