/** Shared by the format tests: the fixtures' paths and readers for what a run wrote. */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { repoRoot } from "../helpers/cli.js";
import { duckdbRows } from "../io/duckdb-query.js";

export const hfFixtures = path("smollm2-customs-parquet");
export const arrowFixture = path("synthetic-sensitive-data-arrow");

function path(name: string): string {
  return resolve(repoRoot, "fixtures/hf", name);
}

/** The records sorted by `row_id` read as a number (fan-out ids "12.0" sort after "12"). */
export function byRowId<T extends Record<string, unknown>>(records: readonly T[]): T[] {
  return [...records].sort((a, b) => Number(a.row_id) - Number(b.row_id) || String(a.row_id).localeCompare(String(b.row_id)));
}

/** The hub export's rows in file order, as DuckDB (an independent reader) reads them. */
export function hubRows(): Promise<Record<string, unknown>[]> {
  return duckdbRows(`SELECT * EXCLUDE (filename, file_row_number) FROM read_parquet('${hfFixtures}/*.parquet', filename = true, file_row_number = true) ORDER BY filename, file_row_number`);
}

/** The file names of an output folder, hidden ones included. */
export function folderFiles(outDir: string, folder: string): string[] {
  const path = join(outDir, folder);
  return existsSync(path) ? readdirSync(path).sort() : [];
}

/** Every row of a Parquet output folder as JSON values (`to_json`: BIGINT as numbers), by row_id. */
export async function parquetRecords(outDir: string, folder: string): Promise<Record<string, unknown>[]> {
  if (!folderFiles(outDir, folder).some((name) => name.endsWith(".parquet"))) return [];
  const rows = await duckdbRows(`SELECT to_json(t)::VARCHAR AS j FROM read_parquet('${join(outDir, folder)}/*.parquet', union_by_name = true) t`);
  return byRowId(rows.map((row) => JSON.parse(String(row.j)) as Record<string, unknown>));
}

/** `column: TYPE` for each column DuckDB sees in a Parquet output folder. */
export async function parquetTypes(outDir: string, folder: string): Promise<Record<string, string>> {
  const rows = await duckdbRows(`DESCRIBE SELECT * FROM read_parquet('${join(outDir, folder)}/*.parquet', union_by_name = true)`);
  return Object.fromEntries(rows.map((row) => [String(row.column_name), String(row.column_type)]));
}
