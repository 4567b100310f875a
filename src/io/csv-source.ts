/**
 * CSV input with a header row (csv-parse: quoted fields, embedded newlines, CRLF, BOM). Values are
 * strings, as CSV has no types; an empty field is "". A record whose field count differs from the
 * header's is a row error naming its line; an unclosed quote ends the read with INPUT_UNREADABLE.
 * Blank lines are not rows. Resume counts records (CSV offsets are not exposed by the parser).
 */
import { pipeline } from "node:stream";
import { parse } from "csv-parse";
import { inputReadError, openByteStream } from "./byte-stream.js";
import { checkColumns, type ColumnChoice } from "./column-selection.js";
import { fingerprintFiles } from "./input-fingerprint.js";
import type { InputFingerprint, Source, SourcePosition, SourceRow } from "./source.js";

interface CsvRecord {
  record: string[];
  info: { lines: number };
}

export class CsvSource implements Source {
  readonly format: string;
  readonly #path: string;
  readonly #gzip: boolean;
  readonly #columns: readonly ColumnChoice[] | undefined;

  constructor(path: string, gzip: boolean, columns?: readonly ColumnChoice[]) {
    this.#path = path;
    this.#gzip = gzip;
    this.#columns = columns;
    this.format = gzip ? "csv.gz" : "csv";
  }

  totalRows(): Promise<number | undefined> {
    return Promise.resolve(undefined);
  }

  fingerprint(): Promise<InputFingerprint> {
    return fingerprintFiles(this.#path, this.format, [this.#path]);
  }

  async *read(from: SourcePosition, options: { batchSize: number; signal?: AbortSignal }): AsyncGenerator<SourceRow[]> {
    const parser = parse({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true });
    const input = openByteStream(this.#path, { gzip: this.#gzip }) as NodeJS.ReadableStream;
    pipeline(input, parser, () => undefined);
    let header: string[] | undefined;
    let index = 0;
    let batch: SourceRow[] = [];
    try {
      for await (const { record, info } of parser as AsyncIterable<CsvRecord>) {
        if (header === undefined) {
          header = record;
          if (this.#columns !== undefined) checkColumns(this.#columns, header, `${this.#path} (its header)`);
          continue;
        }
        if (index >= from.row) {
          batch.push(toRow(header, record, index, info.lines));
          if (batch.length >= options.batchSize) {
            yield batch;
            batch = [];
            if (options.signal?.aborted === true) return;
          }
        }
        index++;
      }
    } catch (error) {
      throw inputReadError(this.#path, "CSV with a header row", error);
    } finally {
      parser.destroy();
    }
    if (batch.length > 0) yield batch;
  }
}

function toRow(header: string[], record: string[], index: number, line: number): SourceRow {
  if (record.length !== header.length) {
    return { index, value: {}, error: `line ${line}: expected ${header.length} fields as in the header, got ${record.length}` };
  }
  const value: Record<string, unknown> = {};
  for (let column = 0; column < header.length; column++) value[header[column] ?? ""] = record[column];
  return { index, value };
}
