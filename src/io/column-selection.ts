/**
 * `--columns a,b,new=old` and `--limit N` as a thin wrapper over any Source. Formats with a schema
 * (Parquet, Arrow, CSV's header) check the selected columns before the first row; schemaless ones
 * (JSONL, JSON arrays) check them against the first decoded row. Either way a column that does not
 * exist is a USAGE error listing the columns that do.
 */
import { ChainetteError } from "../errors.js";
import type { InputFingerprint, Source, SourcePosition, SourceRow } from "./source.js";

export interface ColumnChoice {
  /** The column's name in the rows this source yields. */
  name: string;
  /** The column's name in the input. */
  from: string;
}

export function checkColumns(columns: readonly ColumnChoice[], available: readonly string[], path: string): void {
  const known = new Set(available);
  const missing = columns.filter((column) => !known.has(column.from)).map((column) => column.from);
  if (missing.length > 0) {
    throw new ChainetteError(
      "USAGE",
      `--columns names ${missing.map((name) => `"${name}"`).join(", ")}, not in ${path}; available columns: ${available.join(", ")}`,
    );
  }
}

export function selectColumns(value: Record<string, unknown>, columns: readonly ColumnChoice[]): Record<string, unknown> {
  const selected: Record<string, unknown> = {};
  for (const column of columns) {
    if (Object.hasOwn(value, column.from)) selected[column.name] = value[column.from];
  }
  return selected;
}

export interface SelectionOptions {
  columns?: readonly ColumnChoice[] | undefined;
  /** Rows with an index at or past this are not read. */
  limit?: number | undefined;
  /** The source already checked the columns against its schema. */
  schemaChecked: boolean;
  path: string;
}

export class SelectedSource implements Source {
  readonly format: string;
  readonly #inner: Source;
  readonly #options: SelectionOptions;

  constructor(inner: Source, options: SelectionOptions) {
    this.#inner = inner;
    this.#options = options;
    this.format = inner.format;
  }

  async totalRows(): Promise<number | undefined> {
    const total = await this.#inner.totalRows();
    const limit = this.#options.limit;
    return total === undefined || limit === undefined ? total : Math.min(total, limit);
  }

  /** The inner source's units: a selection reads the same rows. */
  rowUnits(): number[] | undefined {
    return this.#inner.rowUnits?.();
  }

  /** The inner source's, plus `--columns`: the same file read through another selection gives other rows. */
  async fingerprint(): Promise<InputFingerprint> {
    const inner = await this.#inner.fingerprint();
    const { columns } = this.#options;
    return columns === undefined ? inner : { ...inner, columns: columns.map((column) => ({ name: column.name, from: column.from })) };
  }

  async *read(from: SourcePosition, options: { batchSize: number; signal?: AbortSignal }): AsyncGenerator<SourceRow[]> {
    const { columns, limit } = this.#options;
    let checked = this.#options.schemaChecked || columns === undefined;
    if (limit !== undefined && from.row >= limit) return;
    for await (const batch of this.#inner.read(from, options)) {
      let rows = batch;
      if (limit !== undefined && (rows.at(-1)?.index ?? 0) >= limit) rows = rows.filter((row) => row.index < limit);
      if (columns !== undefined) {
        if (!checked) {
          const first = rows.find((row) => row.error === undefined);
          if (first !== undefined) {
            checkColumns(columns, Object.keys(first.value), `${this.#options.path} (its first row)`);
            checked = true;
          }
        }
        for (const row of rows) {
          if (row.error !== undefined) continue;
          row.value = selectColumns(row.value, columns);
          delete row.raw;
        }
      }
      if (rows.length > 0) yield rows;
      if (rows.length < batch.length) return;
    }
  }
}
