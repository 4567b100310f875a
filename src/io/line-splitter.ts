/**
 * Cuts a byte stream into blocks of whole lines with their byte offsets, faster than split2 (which
 * cannot report offsets): a block is one read chunk up to its last `\n`, the partial line at its end
 * carried into the next block. A block of valid UTF-8 is also decoded to one string at once, so its
 * lines are string slices (in pure ASCII, the common case, character offsets are byte offsets); a
 * block with invalid UTF-8 is left to be decoded line by line, so each bad line is its own error.
 * A UTF-8 byte order mark at the start is skipped.
 */
import { isAscii, isUtf8 } from "node:buffer";

export interface LineBlock {
  /** Whole lines: starts at a line's first byte, ends just past a `\n` or at the end of the input. */
  bytes: Buffer;
  /** Absolute byte offset of `bytes[0]` in the input. */
  offset: number;
  /** `bytes` decoded, unless they hold invalid UTF-8. A newline is one byte and one character. */
  text: string | undefined;
  /** Every byte is ASCII: character offsets in `text` are byte offsets. */
  ascii: boolean;
}

export interface LineBlocksOptions {
  /** Absolute byte offset of the stream's first byte (a seek start). @default 0 */
  offset?: number;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

function hasBom(buffer: Buffer): boolean {
  return buffer.length >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf;
}

export async function* lineBlocks(stream: AsyncIterable<Buffer | string>, options: LineBlocksOptions = {}): AsyncGenerator<LineBlock> {
  let offset = options.offset ?? 0;
  let checkBom = offset === 0;
  // The partial line carried over, in pieces (joined once its `\n` arrives: no quadratic copying).
  let pending: Buffer[] = [];
  let pendingLength = 0;
  for await (const piece of stream) {
    const chunk = typeof piece === "string" ? Buffer.from(piece) : piece;
    const newline = chunk.lastIndexOf(NEWLINE);
    if (newline === -1 || (checkBom && pendingLength + chunk.length < 3)) {
      pending.push(chunk);
      pendingLength += chunk.length;
      continue;
    }
    let bytes = pendingLength === 0 ? chunk : Buffer.concat([...pending, chunk], pendingLength + chunk.length);
    const cut = pendingLength + newline + 1;
    pending = cut < bytes.length ? [bytes.subarray(cut)] : [];
    pendingLength = bytes.length - cut;
    bytes = cut < bytes.length ? bytes.subarray(0, cut) : bytes;
    if (checkBom) {
      checkBom = false;
      if (hasBom(bytes)) {
        bytes = bytes.subarray(3);
        offset += 3;
      }
    }
    yield block(bytes, offset);
    offset += bytes.length;
  }
  if (pendingLength > 0) {
    let bytes = Buffer.concat(pending, pendingLength);
    if (checkBom && hasBom(bytes)) {
      bytes = bytes.subarray(3);
      offset += 3;
    }
    if (bytes.length > 0) yield block(bytes, offset);
  }
}

function block(bytes: Buffer, offset: number): LineBlock {
  if (isAscii(bytes)) return { bytes, offset, text: bytes.toString("latin1"), ascii: true };
  const text = bytes.toString("utf8");
  // Invalid UTF-8 decodes to U+FFFD; a real U+FFFD in the data is valid UTF-8 and keeps the block.
  if (text.includes("\uFFFD") && !isUtf8(bytes)) return { bytes, offset, text: undefined, ascii: false };
  return { bytes, offset, text, ascii: false };
}

/**
 * The content end of the line that ends at `newline` (exclusive): before the `\n` and a `\r` before
 * it. `newline` is the block's length for a last line without one.
 */
export function contentEnd(bytes: Buffer, start: number, newline: number): number {
  return newline > start && bytes[newline - 1] === CARRIAGE_RETURN ? newline - 1 : newline;
}

/** True when the bytes hold only spaces, tabs and carriage returns (or nothing): such a line is not a row. */
export function isBlank(bytes: Buffer, start: number, stop: number): boolean {
  for (let index = start; index < stop; index++) {
    const byte = bytes[index];
    if (byte !== 0x20 && byte !== 0x09 && byte !== CARRIAGE_RETURN) return false;
  }
  return true;
}
