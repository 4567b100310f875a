/** Test helper: runs one SQL query in a fresh in-memory DuckDB (an independent Parquet implementation). */
import { DuckDBInstance } from "@duckdb/node-api";

export async function duckdbRows(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJson();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
