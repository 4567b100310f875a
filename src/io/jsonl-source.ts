/**
 * JSONL input (also `.gz`, and "-" for stdin). One JSON object a line; a blank line is not a row
 * (it takes no row_id); a malformed line, a line that is not an object, or a line of invalid UTF-8
 * IS a row, with `error` naming the line and the problem. Plain files report `end` byte offsets,
 * and a resume with `from.offset` seeks there; otherwise skipped lines are counted, never parsed.
 */
import { inputReadError, isSeekableFile, openByteStream, readFileChunks } from "./byte-stream.js";
import { fingerprintFiles } from "./input-fingerprint.js";
import { decodeJsonRow, parseJsonRow, RowDecodeError } from "./json-row.js";
import { contentEnd, isBlank, lineBlocks } from "./line-splitter.js";
import type { InputFingerprint, Source, SourcePosition, SourceRow } from "./source.js";

export interface JsonlSourceOptions {
  gzip: boolean;
  stdin?: NodeJS.ReadableStream;
}

export class JsonlSource implements Source {
  readonly format: string;
  readonly #path: string;
  readonly #options: JsonlSourceOptions;

  constructor(path: string, options: JsonlSourceOptions) {
    this.#path = path;
    this.#options = options;
    this.format = options.gzip ? "jsonl.gz" : "jsonl";
  }

  totalRows(): Promise<number | undefined> {
    return Promise.resolve(undefined);
  }

  fingerprint(): Promise<InputFingerprint> {
    return fingerprintFiles(this.#path, this.format, this.#path === "-" ? [] : [this.#path]);
  }

  async *read(from: SourcePosition, options: { batchSize: number; signal?: AbortSignal }): AsyncGenerator<SourceRow[]> {
    const seekable = !this.#options.gzip && isSeekableFile(this.#path);
    const seek = seekable && from.offset !== undefined && from.row > 0;
    const start = seek ? (from.offset ?? 0) : 0;
    const stream = seekable
      ? readFileChunks(this.#path, start)
      : openByteStream(this.#path, { gzip: this.#options.gzip, ...(this.#options.stdin ? { stdin: this.#options.stdin } : {}) });
    let index = seek ? from.row : 0;
    let lineNumber = seek ? undefined : 0;
    let batch: SourceRow[] = [];
    try {
      for await (const { bytes, offset, text, ascii } of lineBlocks(stream, { offset: start })) {
        // Two cursors over the same lines: bytes (for offsets) and characters (for slices of `text`).
        let position = 0;
        let character = 0;
        while (position < bytes.length) {
          const found = ascii ? (text as string).indexOf("\n", position) : bytes.indexOf(NEWLINE, position);
          const newline = found === -1 ? bytes.length : found;
          const stop = contentEnd(bytes, position, newline);
          const lineStart = position;
          position = newline + 1;
          let sliceStart = lineStart;
          let sliceStop = stop;
          if (text !== undefined && !ascii) {
            const foundCharacter = text.indexOf("\n", character);
            const characterNewline = foundCharacter === -1 ? text.length : foundCharacter;
            sliceStart = character;
            sliceStop = characterNewline - (newline - stop);
            character = characterNewline + 1;
          }
          if (lineNumber !== undefined) lineNumber++;
          if (isBlank(bytes, lineStart, stop)) continue;
          if (index < from.row) {
            index++;
            continue;
          }
          const end = offset + Math.min(position, bytes.length);
          const at = seekable ? end : undefined;
          let row: SourceRow;
          if (text !== undefined) {
            const raw = text.slice(sliceStart, sliceStop);
            const value = parseJsonRow(raw);
            row = value instanceof RowDecodeError ? { index, value: {}, end: at, error: `${where(lineNumber, end)}: ${value.message}` } : { index, value, raw, end: at };
          } else {
            const decoded = decodeJsonRow(bytes, lineStart, stop);
            row = decoded.error === undefined ? { index, value: decoded.value, raw: decoded.text, end: at } : { index, value: {}, end: at, error: `${where(lineNumber, end)}: ${decoded.error}` };
          }
          batch.push(row);
          index++;
          if (batch.length >= options.batchSize) {
            yield batch;
            batch = [];
            if (options.signal?.aborted === true) return;
          }
        }
      }
    } catch (error) {
      throw inputReadError(this.#path, "JSONL", error);
    }
    if (batch.length > 0) yield batch;
  }
}

const NEWLINE = 0x0a;

function where(lineNumber: number | undefined, end: number): string {
  return lineNumber === undefined ? `line ending at byte ${end}` : `line ${lineNumber}`;
}
