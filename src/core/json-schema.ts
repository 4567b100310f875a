/**
 * zod -> JSON Schema for guided decoding, and path lookup in a JSON Schema so templates can be
 * checked against the schemas before the first request.
 */
import { z } from "zod";

export type JsonSchema = Record<string, unknown>;

/** The JSON Schema a server is asked to follow; `$schema` dropped (servers do not need it). */
export function toJsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { unrepresentable: "any" }) as JsonSchema;
  return rest;
}

/** What a schema says about one path: known to exist, known not to exist, or unknowable. */
export type PathCheck = "ok" | "missing" | "unknown";

/**
 * Whether `keys` can be read from a value of `schema`. `$ref`s into `$defs` are followed;
 * `anyOf`/`oneOf` accept a path any alternative provides; an object that allows additional
 * properties or a schema with no type information answers "unknown" (not provably wrong).
 */
export function checkPath(schema: JsonSchema | undefined, keys: readonly string[], root?: JsonSchema): PathCheck {
  if (schema === undefined) return "unknown";
  const top = root ?? schema;
  const resolved = resolveRef(schema, top);
  if (keys.length === 0) return "ok";
  const alternatives = (resolved.anyOf ?? resolved.oneOf ?? resolved.allOf) as JsonSchema[] | undefined;
  if (Array.isArray(alternatives)) {
    const results = alternatives.map((alternative) => checkPath(alternative, keys, top));
    if (results.includes("ok")) return "ok";
    return results.includes("unknown") ? "unknown" : "missing";
  }
  const [head, ...tail] = keys;
  const properties = resolved.properties as Record<string, JsonSchema> | undefined;
  const type = resolved.type;
  const isObject = type === "object" || (Array.isArray(type) && type.includes("object")) || properties !== undefined;
  if (type === "array") {
    // `{{items.0.name}}` reads an element by index.
    return /^\d+$/.test(head ?? "") ? checkPath(resolved.items as JsonSchema | undefined, tail, top) : "missing";
  }
  if (!isObject) return type === undefined ? "unknown" : "missing";
  const property = properties?.[head ?? ""];
  if (property !== undefined) return checkPath(property, tail, top);
  // A schema that declares its properties and does not open itself to others rules the path out.
  const additional = resolved.additionalProperties;
  if (additional === true || (typeof additional === "object" && additional !== null)) return "unknown";
  return properties !== undefined || additional === false ? "missing" : "unknown";
}

function resolveRef(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/")) return schema;
  let target: unknown = root;
  for (const segment of ref.slice(2).split("/")) {
    target = (target as Record<string, unknown> | undefined)?.[segment];
  }
  return (target as JsonSchema | undefined) ?? {};
}

/** The top-level property names a schema declares (for the flattened view and type checks). */
export function propertyNames(schema: JsonSchema | undefined): string[] {
  const properties = schema?.properties;
  return properties && typeof properties === "object" ? Object.keys(properties) : [];
}
