/**
 * Parquet columns typed from a step's output JSON Schema (what zod's `toJSONSchema` gives): strings
 * and enums as UTF8 strings, numbers as DOUBLE, integers as INT64, booleans, objects with properties
 * as structs, arrays as lists; a property that is nullable or not required is OPTIONAL. What has no
 * single Parquet type (unions, free-form objects, `$ref`) is a `json` column: the value as a JSON
 * string. The same `json` kind stores "untyped" extra columns such as error objects.
 */

export type ParquetColumnKind = "string" | "double" | "int64" | "boolean" | "json" | "struct" | "list";

export interface ParquetColumn {
  name: string;
  kind: ParquetColumnKind;
  nullable: boolean;
  /** The struct's fields, for `struct`. */
  fields?: ParquetColumn[];
  /** The element type, for `list` (its own `name` is "element"). */
  items?: ParquetColumn;
}

type JsonSchema = Record<string, unknown>;

/** A string column (e.g. `row_id`). */
export function stringColumn(name: string, nullable = false): ParquetColumn {
  return { name, kind: "string", nullable };
}

/** An untyped column whose values are stored as JSON strings (e.g. an errors shard's `error`). */
export function jsonColumn(name: string): ParquetColumn {
  return { name, kind: "json", nullable: true };
}

export function parquetColumnsFromJsonSchema(schema: JsonSchema): ParquetColumn[] {
  const properties = schema.properties;
  if (typeof properties !== "object" || properties === null) {
    throw new TypeError(`Expected an object JSON Schema with \`properties\`, got ${JSON.stringify(schema).slice(0, 120)}`);
  }
  const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
  return Object.entries(properties as Record<string, JsonSchema>).map(([name, property]) =>
    columnFromSchema(name, property, !required.has(name)),
  );
}

function columnFromSchema(name: string, schema: JsonSchema, optional: boolean): ParquetColumn {
  const { schema: inner, nullable } = unwrapNullable(schema);
  const column = typedColumn(name, inner);
  return { ...column, nullable: optional || nullable || column.nullable };
}

/** `anyOf: [X, {type: "null"}]`, `type: ["string", "null"]`: the type X, and that it is nullable. */
function unwrapNullable(schema: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants)) {
    const others = (variants as JsonSchema[]).filter((variant) => variant.type !== "null");
    if (others.length === 1 && others[0] !== undefined) {
      const inner = unwrapNullable(others[0]);
      return { schema: inner.schema, nullable: others.length < variants.length || inner.nullable };
    }
  }
  if (Array.isArray(schema.type)) {
    const types = (schema.type as unknown[]).filter((type) => type !== "null");
    if (types.length === 1) return { schema: { ...schema, type: types[0] }, nullable: types.length < schema.type.length };
  }
  if (schema.type === "null") return { schema: {}, nullable: true };
  return { schema, nullable: false };
}

function typedColumn(name: string, schema: JsonSchema): ParquetColumn {
  const literals = Array.isArray(schema.enum) ? (schema.enum as unknown[]) : "const" in schema ? [schema.const] : undefined;
  if (literals !== undefined) {
    return { name, kind: literals.every((literal) => typeof literal === "string") ? "string" : "json", nullable: false };
  }
  switch (schema.type) {
    case "string":
      return { name, kind: "string", nullable: false };
    case "number":
      return { name, kind: "double", nullable: false };
    case "integer":
      return { name, kind: "int64", nullable: false };
    case "boolean":
      return { name, kind: "boolean", nullable: false };
    case "array": {
      const items = schema.items;
      if (typeof items !== "object" || items === null || Array.isArray(items)) return { name, kind: "json", nullable: false };
      return { name, kind: "list", nullable: false, items: columnFromSchema("element", items as JsonSchema, false) };
    }
    case "object": {
      const properties = schema.properties as Record<string, JsonSchema> | undefined;
      if (properties === undefined || Object.keys(properties).length === 0) return { name, kind: "json", nullable: false };
      return { name, kind: "struct", nullable: false, fields: parquetColumnsFromJsonSchema(schema) };
    }
    default:
      return { name, kind: "json", nullable: false };
  }
}
