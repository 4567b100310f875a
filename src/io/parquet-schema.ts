/**
 * Turns ParquetColumns into the flat Parquet schema (depth-first SchemaElements, as in the file
 * footer) and turns row values into what the column's physical type takes (BigInt for INT64, JSON
 * text for `json`), recursively through structs and lists. Lists use the standard three-level
 * LIST layout that pyarrow, DuckDB and Spark read.
 */
import type { SchemaElement } from "hyparquet";
import type { ParquetColumn } from "./parquet-columns.js";

export function parquetSchemaElements(columns: readonly ParquetColumn[]): SchemaElement[] {
  const elements: SchemaElement[] = [{ name: "root", num_children: columns.length }];
  for (const column of columns) pushColumn(elements, column);
  return elements;
}

function pushColumn(elements: SchemaElement[], column: ParquetColumn): void {
  const repetition_type = column.nullable ? "OPTIONAL" : "REQUIRED";
  switch (column.kind) {
    case "string":
    case "json":
      elements.push({ name: column.name, repetition_type, type: "BYTE_ARRAY", converted_type: "UTF8" });
      return;
    case "double":
      elements.push({ name: column.name, repetition_type, type: "DOUBLE" });
      return;
    case "int64":
      elements.push({ name: column.name, repetition_type, type: "INT64" });
      return;
    case "boolean":
      elements.push({ name: column.name, repetition_type, type: "BOOLEAN" });
      return;
    case "struct": {
      const fields = column.fields ?? [];
      elements.push({ name: column.name, repetition_type, num_children: fields.length });
      for (const field of fields) pushColumn(elements, field);
      return;
    }
    case "list":
      elements.push({ name: column.name, repetition_type, num_children: 1, converted_type: "LIST" });
      elements.push({ name: "list", repetition_type: "REPEATED", num_children: 1 });
      if (column.items) pushColumn(elements, column.items);
      return;
  }
}

/** The value a column stores for `value`; throws naming the column when the value cannot fit. */
export function parquetValue(column: ParquetColumn, value: unknown): unknown {
  if (value === null || value === undefined) {
    if (!column.nullable) throw new TypeError(`column "${column.name}" is required, got ${String(value)}`);
    return null;
  }
  switch (column.kind) {
    case "string":
      return typeof value === "string" ? value : JSON.stringify(value);
    case "json":
      return JSON.stringify(value);
    case "double":
      if (typeof value !== "number") throw mismatch(column, "a number", value);
      return value;
    case "int64":
      if (typeof value === "bigint") return value;
      if (typeof value !== "number" || !Number.isInteger(value)) throw mismatch(column, "an integer", value);
      return BigInt(value);
    case "boolean":
      if (typeof value !== "boolean") throw mismatch(column, "a boolean", value);
      return value;
    case "struct": {
      if (typeof value !== "object" || Array.isArray(value)) throw mismatch(column, "an object", value);
      const record = value as Record<string, unknown>;
      const plain: Record<string, unknown> = {};
      for (const field of column.fields ?? []) plain[field.name] = parquetValue(field, record[field.name]);
      return plain;
    }
    case "list": {
      if (!Array.isArray(value)) throw mismatch(column, "an array", value);
      const items = column.items;
      return items ? value.map((item: unknown) => parquetValue(items, item)) : value;
    }
  }
}

function mismatch(column: ParquetColumn, expected: string, value: unknown): TypeError {
  return new TypeError(`column "${column.name}" expects ${expected}, got ${JSON.stringify(value)?.slice(0, 80)}`);
}
