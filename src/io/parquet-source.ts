/**
 * Parquet input: one file or many shards (read in sorted order, row_ids running on across them),
 * decoded row group by row group with hyparquet (+ hyparquet-compressors for ZSTD, Brotli, LZ4,
 * gzip). A resume skips whole row groups by their metadata row counts without decoding them. No row
 * nests deeper than its file's schema: only a file whose schema passes `MAX_NESTING_DEPTH` has its
 * rows walked, and one nested too deeply is a row error.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";
import type { AsyncBuffer, FileMetaData, SchemaTree } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { MAX_NESTING_DEPTH } from "../core/nesting-depth.js";
import { inputReadError } from "./byte-stream.js";
import { fingerprintFiles } from "./input-fingerprint.js";
import { deepRow } from "./deep-row.js";
import { plainObject } from "./plain-value.js";
import type { InputFingerprint, Source, SourcePosition, SourceRow } from "./source.js";

interface ParquetFile {
  path: string;
  file: AsyncBuffer;
  metadata: FileMetaData;
  /** Row counts of the row groups, in order. */
  groups: number[];
}

export class ParquetSource implements Source {
  readonly format = "parquet";
  readonly #input: string;
  readonly #files: ParquetFile[];
  readonly #columns: string[] | undefined;

  private constructor(input: string, files: ParquetFile[], columns: string[] | undefined) {
    this.#input = input;
    this.#files = files;
    this.#columns = columns;
  }

  /** Reads every file's footer now, so a truncated or foreign file fails before the first row. */
  static async open(input: string, paths: readonly string[], columns?: string[]): Promise<ParquetSource> {
    const files: ParquetFile[] = [];
    for (const path of paths) {
      try {
        const file = await asyncBufferFromFile(path);
        const metadata = await parquetMetadataAsync(file);
        files.push({ path, file, metadata, groups: metadata.row_groups.map((group) => Number(group.num_rows)) });
      } catch (error) {
        throw inputReadError(path, "Parquet (a file starting and ending with PAR1)", error);
      }
    }
    return new ParquetSource(input, files, columns);
  }

  /** The top-level column names of the first file. */
  columnNames(): string[] {
    const first = this.#files[0];
    return first === undefined ? [] : parquetSchema(first.metadata).children.map((child) => child.element.name);
  }

  totalRows(): Promise<number | undefined> {
    return Promise.resolve(this.#files.reduce((sum, file) => sum + Number(file.metadata.num_rows), 0));
  }

  /** Row groups, file after file. */
  rowUnits(): number[] {
    return this.#files.flatMap((file) => file.groups);
  }

  fingerprint(): Promise<InputFingerprint> {
    return fingerprintFiles(this.#input, this.format, this.#files.map((file) => file.path));
  }

  async *read(from: SourcePosition, options: { batchSize: number; signal?: AbortSignal }): AsyncGenerator<SourceRow[]> {
    let index = 0;
    for (const file of this.#files) {
      let fileRow = 0;
      const deep = schemaDepth(parquetSchema(file.metadata)) > MAX_NESTING_DEPTH;
      for (const groupRows of file.groups) {
        const groupEnd = index + groupRows;
        if (groupEnd > from.row) {
          const skip = Math.max(0, from.row - index);
          const rows = await this.#readGroup(file, fileRow + skip, fileRow + groupRows);
          let batch: SourceRow[] = [];
          for (let position = 0; position < rows.length; position++) {
            const row = rows[position] ?? {};
            const rowIndex = index + skip + position;
            batch.push(deep ? deepRow(rowIndex, () => plainObject(row), `row ${fileRow + skip + position} of ${file.path}`) : { index: rowIndex, value: plainObject(row) });
            if (batch.length >= options.batchSize) {
              yield batch;
              batch = [];
              if (options.signal?.aborted === true) return;
            }
          }
          if (batch.length > 0) yield batch;
        }
        index = groupEnd;
        fileRow += groupRows;
      }
    }
  }

  async #readGroup(file: ParquetFile, rowStart: number, rowEnd: number): Promise<Record<string, unknown>[]> {
    try {
      return await parquetReadObjects({
        file: file.file,
        metadata: file.metadata,
        rowStart,
        rowEnd,
        compressors,
        // strings are the columns annotated as such; other byte arrays stay binary (then base64)
        utf8: false,
        ...(this.#columns ? { columns: this.#columns } : {}),
      });
    } catch (error) {
      throw inputReadError(file.path, "Parquet", error);
    }
  }
}

/** Levels of groups in a Parquet schema, the root being 1 (a LIST takes two): no row nests deeper. */
function schemaDepth(root: SchemaTree): number {
  let deepest = 1;
  const pending: { tree: SchemaTree; depth: number }[] = [{ tree: root, depth: 1 }];
  for (let entry = pending.pop(); entry !== undefined; entry = pending.pop()) {
    deepest = Math.max(deepest, entry.depth);
    for (const child of entry.tree.children) if (child.children.length > 0) pending.push({ tree: child, depth: entry.depth + 1 });
  }
  return deepest;
}
