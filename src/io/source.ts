/**
 * An input source: rows in micro-batches, each with its 0-based position (`index`, the row_id) and,
 * where the format allows it, the byte offset just past the row so a resume can seek instead of
 * re-parsing a done prefix.
 */

export interface SourceRow {
  /** 0-based position of the row in the input: its row_id. Stable across runs. */
  index: number;
  /** The row's columns, or the reason the row could not be decoded (it becomes an error record). */
  value: Record<string, unknown>;
  /**
   * The row's JSON text exactly as read, when `value` is that object unchanged (JSONL without
   * `--columns`): the writer splices it into flattened records instead of stringifying it again.
   */
  raw?: string;
  /** Byte offset just past this row in the (uncompressed) file, when the format is seekable. */
  end?: number | undefined;
  /** Set when the row could not be decoded; `value` is then `{}`. */
  error?: string;
}

/** Where to start reading on resume: the first row not known done. */
export interface SourcePosition {
  row: number;
  /** Byte offset of that row, when the source reported `end` offsets; lets JSONL seek. */
  offset?: number;
}

export interface InputFingerprint {
  /** 2 since identities stopped holding mtimes; absent in ledgers written before. */
  version?: 2;
  /** The input as the user named it (path or "-"): shown, and compared only for a pipe or stdin. */
  path: string;
  format: string;
  /** `--columns`, when given: output name <- input name. It changes every row, so it is compared. */
  columns?: { name: string; from: string }[];
  /** Each regular file of the input (none for a pipe or stdin). */
  files: InputFileFingerprint[];
}

export interface InputFileFingerprint {
  /** The file's real path: relative paths and symlinks resolved. */
  path: string;
  size: number;
  /** A hash of the file's bytes: all of them, or sampled blocks of a large file (input-fingerprint.ts). */
  sample: string;
}

export interface Source {
  readonly format: string;
  /** Rows in the input when known without reading it (Parquet, Arrow metadata), else undefined. */
  totalRows(): Promise<number | undefined>;
  fingerprint(): Promise<InputFingerprint>;
  /**
   * Row counts of the units a read can start at without decoding what comes before (Parquet: row
   * groups, across files; Arrow: files), in order: what `--shard` splits such an input by.
   * Undefined (or absent) for formats without them.
   */
  rowUnits?(): number[] | undefined;
  /** Streams batches of about `batchSize` rows starting at `from`. */
  read(from: SourcePosition, options: { batchSize: number; signal?: AbortSignal }): AsyncIterable<SourceRow[]>;
}

export interface OpenSourceOptions {
  /** `--split NAME` for a DatasetDict folder. */
  split?: string;
  /** `--columns a,b,new=old`, parsed: output name -> input name. */
  columns?: { name: string; from: string }[];
  /** `--limit N`: only rows with an index below N are read. @default no limit */
  limit?: number;
  /** Standard input, for "-". @default process.stdin */
  stdin?: NodeJS.ReadableStream;
}
