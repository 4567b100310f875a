/**
 * Splits a byte stream into lines with their byte offsets, faster than split2 (which cannot report
 * offsets): one `indexOf(0x0a)` scan per chunk, no string building across chunk boundaries except
 * for the one line that straddles them. A line's bytes exclude the `\n` and a trailing `\r`.
 */

export interface Line {
  /** The buffer holding the line's bytes, from `start` to `stop` (exclusive). */
  buffer: Buffer;
  start: number;
  stop: number;
  /** Absolute byte offset just past the line's `\n` (or the end of the input for the last line). */
  end: number;
}

export interface SplitLinesOptions {
  /** Absolute byte offset of the stream's first byte (a seek start). @default 0 */
  offset?: number;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

function hasBom(buffer: Buffer): boolean {
  return buffer.length >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf;
}

/** Yields the lines of each chunk as one array (no per-line generator overhead). */
export async function* splitLines(
  stream: AsyncIterable<Buffer | string>,
  options: SplitLinesOptions = {},
): AsyncGenerator<Line[]> {
  let offset = options.offset ?? 0;
  let checkBom = offset === 0;
  let pending: Buffer[] = [];
  let pendingLength = 0;
  for await (const piece of stream) {
    let chunk = typeof piece === "string" ? Buffer.from(piece) : piece;
    if (checkBom && pendingLength + chunk.length >= 3) {
      if (pendingLength > 0) {
        chunk = Buffer.concat([...pending, chunk]);
        pending = [];
        pendingLength = 0;
      }
      checkBom = false;
      if (hasBom(chunk)) {
        chunk = chunk.subarray(3);
        offset += 3;
      }
    }
    const lines: Line[] = [];
    let position = 0;
    let newline = chunk.indexOf(NEWLINE, 0);
    if (newline !== -1 && pendingLength > 0) {
      // the line that straddles chunks: join its parts once
      pending.push(chunk.subarray(0, newline));
      const joined = Buffer.concat(pending, pendingLength + newline);
      lines.push(makeLine(joined, 0, joined.length, offset + newline + 1));
      pending = [];
      pendingLength = 0;
      position = newline + 1;
      newline = chunk.indexOf(NEWLINE, position);
    }
    while (newline !== -1) {
      lines.push(makeLine(chunk, position, newline, offset + newline + 1));
      position = newline + 1;
      newline = chunk.indexOf(NEWLINE, position);
    }
    if (position < chunk.length) {
      pending.push(chunk.subarray(position));
      pendingLength += chunk.length - position;
    }
    offset += chunk.length;
    if (lines.length > 0) yield lines;
  }
  if (pendingLength > 0) {
    let joined = Buffer.concat(pending, pendingLength);
    if (checkBom && hasBom(joined)) joined = joined.subarray(3);
    yield [makeLine(joined, 0, joined.length, offset)];
  }
}

function makeLine(buffer: Buffer, start: number, stop: number, end: number): Line {
  const last = stop > start ? buffer[stop - 1] : undefined;
  return { buffer, start, stop: last === CARRIAGE_RETURN ? stop - 1 : stop, end };
}

/** True when the line holds only spaces and tabs (or nothing): such a line is not a row. */
export function isBlankLine(line: Line): boolean {
  for (let index = line.start; index < line.stop; index++) {
    const byte = line.buffer[index];
    if (byte !== 0x20 && byte !== 0x09 && byte !== CARRIAGE_RETURN) return false;
  }
  return true;
}
