/**
 * Rows of sealed Parquet shards, a few at a time, for the viewer: hyparquet over a file handle,
 * given rows `[start, end)`, reads the row groups that hold them and decodes only the pages those
 * rows are in, never the whole file; where a column has an offset index (the writer adds one to a
 * column chunk of several pages) only those pages are read from disk too. Each file's parsed footer is kept (up to `FOOTERS_KEPT` files,
 * the least recently used going first), as is the root of each row of the last files searched for a
 * row (`rootsOf`); an entry is keyed by the file's path, size and modification time, so a file
 * written anew (a `--fresh` run) is read anew. A handle is opened for each read and closed after.
 */
import { open, type FileHandle } from "node:fs/promises";
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer, type FileMetaData } from "hyparquet";
import type { ParquetColumn } from "../io/parquet-columns.js";
import { columnsOfFile, jsonRecord } from "../io/parquet-record.js";

interface Footer {
  size: number;
  mtimeMs: number;
  metadata: FileMetaData;
  columns: ParquetColumn[];
}

/** Parsed footers kept: a few KB each, one per shard the viewer has read. */
export const FOOTERS_KEPT = 512;
/** Files whose row roots are kept: 8 bytes a row. */
const ROOTS_KEPT = 32;
/** A footer is at the end of the file: the first read takes this much of it (most footers fit). */
const FOOTER_READ = 64 * 1024;

const footers = new Map<string, Footer>();
const roots = new Map<string, { size: number; mtimeMs: number; roots: Float64Array }>();

/** Rows `[start, end)` of the sealed shard at `path`, as the JSON records their JSONL lines held. */
export function sealedRows(path: string, start: number, end: number): Promise<Record<string, unknown>[]> {
  return withFile(path, async (file, footer) => {
    const last = Math.min(end, Number(footer.metadata.num_rows));
    if (last <= start) return [];
    const rows = await parquetReadObjects({ file, metadata: footer.metadata, rowStart: start, rowEnd: last, useOffsetIndex: true });
    return rows.map((row) => jsonRecord(row, footer.columns));
  });
}

/**
 * The root row of each row of the shard (a row id's part before the first dot), in file order:
 * read from the `row_id` column alone, and kept for the last files asked.
 */
export function rootsOf(path: string): Promise<Float64Array> {
  return withFile(path, async (file, footer) => {
    const kept = roots.get(path);
    if (kept !== undefined && kept.size === footer.size && kept.mtimeMs === footer.mtimeMs) {
      remember(roots, path, kept, ROOTS_KEPT);
      return kept.roots;
    }
    const rows = await parquetReadObjects({ file, metadata: footer.metadata, columns: ["row_id"] });
    const found = new Float64Array(rows.length);
    rows.forEach((row, index) => (found[index] = Number.parseInt(String(row.row_id), 10)));
    remember(roots, path, { size: footer.size, mtimeMs: footer.mtimeMs, roots: found }, ROOTS_KEPT);
    return found;
  });
}

async function withFile<T>(path: string, read: (file: AsyncBuffer, footer: Footer) => Promise<T>): Promise<T> {
  const handle = await open(path, "r");
  try {
    const { size, mtimeMs } = await handle.stat();
    const file = handleBuffer(handle, size);
    let footer = footers.get(path);
    if (footer === undefined || footer.size !== size || footer.mtimeMs !== mtimeMs) {
      const metadata = await parquetMetadataAsync(file, { initialFetchSize: FOOTER_READ });
      footer = { size, mtimeMs, metadata, columns: columnsOfFile(metadata) };
    }
    remember(footers, path, footer, FOOTERS_KEPT);
    return await read(file, footer);
  } finally {
    await handle.close();
  }
}

/** Puts `key` last (the most recently used), dropping the least recently used past `most`. */
function remember<T>(cache: Map<string, T>, key: string, value: T, most: number): void {
  cache.delete(key);
  cache.set(key, value);
  for (const oldest of cache.keys()) {
    if (cache.size <= most) break;
    cache.delete(oldest);
  }
}

/** An AsyncBuffer over an open file: each slice is one positioned read. */
function handleBuffer(handle: FileHandle, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      const bytes = new Uint8Array(Math.max(0, Math.min(end, size) - start));
      let filled = 0;
      while (filled < bytes.length) {
        const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, start + filled);
        // A file cut shorter than its footer said: what is there is all (the decoder says what is missing).
        if (bytesRead === 0) return bytes.buffer.slice(0, filled);
        filled += bytesRead;
      }
      return bytes.buffer;
    },
  };
}
