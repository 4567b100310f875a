/**
 * A row of a Parquet shard back as the JSON record its JSONL line held: the inverse of
 * `parquetValue`. The writer keeps the shard's columns (their kinds, so which strings are JSON
 * text) in the file's key-value metadata under `PARQUET_COLUMNS_KEY`; a file without it (sealed by
 * an earlier version, or written elsewhere) has them read from its Parquet schema, where a JSON-text
 * column is a plain string. INT64 comes back as a number, JSON text parsed, and a null field is
 * left out: Parquet does not tell a missing key from a null one, and a JSONL record has no key for
 * a value that was missing (a field that held null shows as absent).
 */
import { parquetSchema, type FileMetaData, type SchemaTree } from "hyparquet";
import type { ParquetColumn, ParquetColumnKind } from "./parquet-columns.js";

/** The key-value metadata entry holding a shard's `ParquetColumn[]` as JSON. */
export const PARQUET_COLUMNS_KEY = "chainette.columns";

/** The file's columns: as the writer recorded them, else as its schema says. */
export function columnsOfFile(metadata: FileMetaData): ParquetColumn[] {
  const schema = parquetSchema(metadata);
  const names = schema.children.map((child) => child.element.name);
  const recorded = metadata.key_value_metadata?.find((entry) => entry.key === PARQUET_COLUMNS_KEY)?.value;
  if (recorded !== undefined) {
    try {
      const columns = JSON.parse(recorded) as unknown;
      if (Array.isArray(columns) && columns.length === names.length && columns.every((column, index) => isColumn(column) && column.name === names[index])) return columns as ParquetColumn[];
    } catch {
      // not ours after all: the schema says enough
    }
  }
  return schema.children.map(columnOfTree);
}

/** The JSON record of one row as hyparquet reads it (`parquetReadObjects`), in column order. */
export function jsonRecord(row: Readonly<Record<string, unknown>>, columns: readonly ParquetColumn[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const column of columns) {
    const value = jsonValue(column, row[column.name]);
    if (value !== undefined) record[column.name] = value;
  }
  return record;
}

function jsonValue(column: ParquetColumn, value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  switch (column.kind) {
    case "json":
      if (typeof value !== "string") return plain(value);
      try {
        return JSON.parse(value) as unknown;
      } catch {
        return value;
      }
    case "int64":
      return typeof value === "bigint" ? Number(value) : value;
    case "struct": {
      if (typeof value !== "object" || Array.isArray(value)) return plain(value);
      const fields = column.fields ?? [];
      return fields.length === 0 ? plain(value) : jsonRecord(value as Record<string, unknown>, fields);
    }
    case "list": {
      if (!Array.isArray(value)) return plain(value);
      const items = column.items;
      return value.map((item: unknown) => (items === undefined ? plain(item) : (jsonValue(items, item) ?? null)));
    }
    default:
      return plain(value);
  }
}

/** A value of a column whose kind is not known: BigInt as a number, bytes as text, the rest as is. */
function plain(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, plain(field)]));
  return value;
}

/** A column as the Parquet schema describes it (our writer's layouts: see `parquet-schema.ts`). */
function columnOfTree(tree: SchemaTree): ParquetColumn {
  const { element, children } = tree;
  const nullable = element.repetition_type !== "REQUIRED";
  const list = children[0];
  if (element.converted_type === "LIST" && list !== undefined && list.children[0] !== undefined) {
    return { name: element.name, kind: "list", nullable, items: columnOfTree(list.children[0]) };
  }
  if (children.length > 0) return { name: element.name, kind: "struct", nullable, fields: children.map(columnOfTree) };
  const kinds: Partial<Record<string, ParquetColumnKind>> = { INT64: "int64", DOUBLE: "double", BOOLEAN: "boolean", BYTE_ARRAY: "string" };
  return { name: element.name, kind: kinds[element.type ?? ""] ?? "string", nullable };
}

function isColumn(value: unknown): value is ParquetColumn {
  if (typeof value !== "object" || value === null) return false;
  const column = value as Partial<ParquetColumn>;
  return typeof column.name === "string" && typeof column.kind === "string";
}
