/**
 * JSON array input (`[{...}, {...}]`, also `.gz`), streamed element by element, never loaded
 * whole. Each element is a row; one that is not an object, or not valid JSON, is a row error. Plain
 * files report `end` offsets and a resume seeks past the last done element.
 */
import { inputReadError, isSeekableFile, openByteStream } from "./byte-stream.js";
import { fingerprintFiles } from "./input-fingerprint.js";
import { splitJsonArray } from "./json-array-splitter.js";
import { decodeJsonRow } from "./json-row.js";
import type { InputFingerprint, Source, SourcePosition, SourceRow } from "./source.js";

export class JsonArraySource implements Source {
  readonly format: string;
  readonly #path: string;
  readonly #gzip: boolean;

  constructor(path: string, gzip: boolean) {
    this.#path = path;
    this.#gzip = gzip;
    this.format = gzip ? "json.gz" : "json";
  }

  totalRows(): Promise<number | undefined> {
    return Promise.resolve(undefined);
  }

  fingerprint(): Promise<InputFingerprint> {
    return fingerprintFiles(this.#path, this.format, [this.#path]);
  }

  async *read(from: SourcePosition, options: { batchSize: number; signal?: AbortSignal }): AsyncGenerator<SourceRow[]> {
    const seekable = !this.#gzip && isSeekableFile(this.#path);
    const seek = seekable && from.offset !== undefined && from.row > 0;
    const stream = openByteStream(this.#path, { start: seek ? (from.offset ?? 0) : 0, gzip: this.#gzip });
    let index = seek ? from.row : 0;
    let batch: SourceRow[] = [];
    try {
      for await (const elements of splitJsonArray(stream, seek && from.offset !== undefined ? { offset: from.offset } : {})) {
        for (const element of elements) {
          if (index >= from.row) {
            const decoded = decodeJsonRow(element.buffer, element.start, element.stop);
            const row: SourceRow =
              decoded.error === undefined
                ? { index, value: decoded.value }
                : { index, value: {}, error: `array element ${index} (ending at byte ${element.end}): ${decoded.error}` };
            if (seekable) row.end = element.end;
            batch.push(row);
            if (batch.length >= options.batchSize) {
              yield batch;
              batch = [];
              if (options.signal?.aborted === true) return;
            }
          }
          index++;
        }
      }
    } catch (error) {
      throw inputReadError(this.#path, "a JSON array", error);
    }
    if (batch.length > 0) yield batch;
  }
}
