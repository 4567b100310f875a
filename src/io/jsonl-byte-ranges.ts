/**
 * Splitting a JSONL file by bytes without reading it: part i of N owns the lines that START in
 * `[i*size/N, (i+1)*size/N)`. Finding where a part begins reads a few bytes at the nominal offset
 * (up to the next newline); counting the rows of a part scans only that part for newlines. A row is
 * what `JsonlSource` makes one: a line that is not blank (spaces, tabs and CRs only).
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { isBlank } from "./line-splitter.js";

/** Byte offsets `[start, end)` of part `index` of `count`, both at line starts (or the file's end). */
export interface ByteRange {
  start: number;
  end: number;
}

const NEWLINE = 0x0a;

/** The nominal (unaligned) offset where part `index` of `count` begins. Exact integer arithmetic. */
export function nominalOffset(size: number, index: number, count: number): number {
  return Number((BigInt(size) * BigInt(index)) / BigInt(count));
}

/** The first line start at or after `offset`: 0, or just past a newline; `size` when none is left. */
export async function alignToLineStart(path: string, offset: number, size: number): Promise<number> {
  if (offset <= 0) return 0;
  if (offset >= size) return size;
  const handle = await open(path, "r");
  try {
    // A line starts at `offset` exactly when the byte before it is a newline: look from there.
    let position = offset - 1;
    const buffer = Buffer.allocUnsafe(64 * 1024);
    while (position < size) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      const found = buffer.subarray(0, bytesRead).indexOf(NEWLINE);
      if (found !== -1) return position + found + 1;
      position += bytesRead;
    }
    return size;
  } finally {
    await handle.close();
  }
}

/** Byte range of part `index` of `count` of a file of `size` bytes, aligned to line starts. */
export async function jsonlByteRange(path: string, size: number, index: number, count: number): Promise<ByteRange> {
  const [start, end] = await Promise.all([alignToLineStart(path, nominalOffset(size, index, count), size), alignToLineStart(path, nominalOffset(size, index + 1, count), size)]);
  return { start, end: Math.max(start, end) };
}

/**
 * Rows (non-blank lines) in `[start, end)`, which must begin at a line start; a last line without
 * a newline counts. Scans only those bytes (~1 GB/s, see docs/scale-out.md).
 */
export async function countRowsInRange(path: string, range: ByteRange, signal?: AbortSignal): Promise<number> {
  if (range.end <= range.start) return 0;
  let rows = 0;
  // Whether the line in progress (it may span chunks) has a byte other than space, tab or CR yet.
  let lineHasContent = false;
  const stream = createReadStream(path, { start: range.start, end: range.end - 1, highWaterMark: 1 << 20, ...(signal ? { signal } : {}) });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let position = 0;
    while (position < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, position);
      const stop = newline === -1 ? chunk.length : newline;
      if (!lineHasContent && stop > position) {
        // The common case, `{...}`: the first byte decides; only blank-looking starts are scanned.
        const first = chunk[position];
        lineHasContent = first !== 0x20 && first !== 0x09 && first !== 0x0d ? true : !isBlank(chunk, position, stop);
      }
      if (newline === -1) break;
      if (lineHasContent) rows++;
      lineHasContent = false;
      position = newline + 1;
    }
  }
  return lineHasContent ? rows + 1 : rows;
}
