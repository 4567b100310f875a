/**
 * Generates a JSON value that validates against a JSON Schema, the way guided decoding in vLLM
 * constrains a model: objects, nested objects, arrays (items, prefixItems, min/maxItems,
 * uniqueItems), enum, const, anyOf/oneOf/allOf, nullable (type lists and OpenAPI `nullable`),
 * strings (min/maxLength, formats, simple patterns), integer/number bounds and multipleOf,
 * local `$ref` with `$defs`/`definitions`. Deterministic for a given SeededRandom.
 */
import type { SeededRandom } from "./seeded-random.js";
import { generateBoundedString, generateFormat, generateWord, patternCandidates } from "./text-generator.js";
import { generateNumber } from "./number-generator.js";

export type JsonSchema = boolean | { readonly [key: string]: unknown };
type SchemaObject = { readonly [key: string]: unknown };

/** Past this depth the generator takes the smallest choice (no optional fields, minItems, null). */
const DEEP = 6;

interface Context {
  readonly random: SeededRandom;
  readonly root: JsonSchema;
}

/** A JSON value valid against `schema` (for schemas within the supported subset). */
export function generateFromSchema(schema: JsonSchema, random: SeededRandom): unknown {
  return generate(schema, { random, root: schema }, 0);
}

function isObject(value: unknown): value is SchemaObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function resolveReference(reference: string, context: Context): JsonSchema {
  if (!reference.startsWith("#")) return {};
  let target: unknown = context.root;
  for (const raw of reference.slice(1).split("/").filter((part) => part !== "")) {
    const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    target = isObject(target) ? target[key] : Array.isArray(target) ? (target as unknown[])[Number(key)] : undefined;
  }
  return typeof target === "boolean" || isObject(target) ? target : {};
}

/** Merges `allOf` members and `$ref` siblings into one schema (properties and required united). */
function mergeSchemas(base: SchemaObject, extra: SchemaObject): SchemaObject {
  const merged: Record<string, unknown> = { ...base, ...extra };
  if (isObject(base.properties) && isObject(extra.properties)) merged.properties = { ...base.properties, ...extra.properties };
  if (Array.isArray(base.required) && Array.isArray(extra.required)) merged.required = [...new Set<unknown>([...(base.required as unknown[]), ...(extra.required as unknown[])])];
  return merged;
}

function flatten(schema: SchemaObject, context: Context, depth: number): SchemaObject {
  let current = schema;
  for (let hops = 0; hops < 32; hops++) {
    if (typeof current.$ref === "string") {
      const { $ref, ...rest } = current;
      const target = typeof $ref === "string" ? resolveReference($ref, context) : {};
      current = mergeSchemas(isObject(target) ? target : {}, rest);
    } else if (Array.isArray(current.allOf)) {
      const { allOf, ...rest } = current;
      current = (allOf as unknown[]).filter(isObject).reduce((merged: SchemaObject, part) => mergeSchemas(merged, flatten(part, context, depth)), rest);
    } else break;
  }
  return current;
}

function chooseBranch(branches: unknown[], context: Context, depth: number): JsonSchema {
  const candidates = branches.filter((branch): branch is JsonSchema => typeof branch === "boolean" || isObject(branch));
  if (depth >= DEEP) {
    const simple = candidates.find((branch) => isObject(branch) && (branch.type === "null" || branch.const !== undefined || branch.enum !== undefined));
    if (simple !== undefined) return simple;
  }
  return candidates.length > 0 ? context.random.pick(candidates) : {};
}

function chooseType(schema: SchemaObject, context: Context, depth: number): string {
  const declared = schema.type;
  const types: string[] = Array.isArray(declared) ? declared.filter((type) => typeof type === "string") : typeof declared === "string" ? [declared] : [];
  if (schema.nullable === true && !types.includes("null")) types.push("null");
  if (types.length === 0) {
    if (isObject(schema.properties) || schema.additionalProperties !== undefined || Array.isArray(schema.required)) return "object";
    if (schema.items !== undefined || Array.isArray(schema.prefixItems)) return "array";
    if (schema.minimum !== undefined || schema.maximum !== undefined) return "number";
    return "string";
  }
  const nonNull = types.filter((type) => type !== "null");
  if (nonNull.length === 0) return "null";
  if (types.includes("null") && (depth >= DEEP || context.random.chance(0.25))) return "null";
  return context.random.pick(nonNull);
}

function generate(schema: JsonSchema, context: Context, depth: number): unknown {
  if (schema === true) return generateWord(context.random);
  if (schema === false) return null;
  const flat = flatten(schema, context, depth);
  if (flat.const !== undefined) return flat.const;
  if (Array.isArray(flat.enum) && flat.enum.length > 0) return context.random.pick(flat.enum);
  const branches = Array.isArray(flat.anyOf) ? flat.anyOf : Array.isArray(flat.oneOf) ? flat.oneOf : undefined;
  if (branches !== undefined) {
    const { anyOf: _anyOf, oneOf: _oneOf, ...rest } = flat;
    const branch = chooseBranch(branches, context, depth);
    return generate(typeof branch === "boolean" ? branch : mergeSchemas(rest, branch), context, depth);
  }
  switch (chooseType(flat, context, depth)) {
    case "null":
      return null;
    case "boolean":
      return context.random.chance(0.5);
    case "integer":
      return generateNumber(flat, context.random, true);
    case "number":
      return generateNumber(flat, context.random, false);
    case "array":
      return generateArray(flat, context, depth);
    case "object":
      return generateObject(flat, context, depth);
    default:
      return generateString(flat, context.random);
  }
}

function generateString(schema: SchemaObject, random: SeededRandom): string {
  const minLength = typeof schema.minLength === "number" ? schema.minLength : 0;
  const maxLength = typeof schema.maxLength === "number" ? schema.maxLength : Number.MAX_SAFE_INTEGER;
  const formatted = typeof schema.format === "string" ? generateFormat(random, schema.format) : undefined;
  let text = formatted ?? generateBoundedString(random, Math.max(minLength, 1), Math.max(maxLength, 1));
  if (typeof schema.pattern === "string") {
    const pattern = new RegExp(schema.pattern, "u");
    if (!pattern.test(text)) text = patternCandidates(random).find((candidate) => pattern.test(candidate)) ?? text;
  }
  if (text.length > maxLength) text = text.slice(0, maxLength);
  if (text.length < minLength) text = text.padEnd(minLength, "x");
  return text;
}

function generateArray(schema: SchemaObject, context: Context, depth: number): unknown[] {
  const prefix = Array.isArray(schema.prefixItems) ? (schema.prefixItems as JsonSchema[]) : [];
  const minItems = typeof schema.minItems === "number" ? schema.minItems : 0;
  const maxItems = typeof schema.maxItems === "number" ? schema.maxItems : Number.MAX_SAFE_INTEGER;
  const itemSchema: JsonSchema = schema.items === false ? false : typeof schema.items === "boolean" || isObject(schema.items) ? schema.items : {};
  const upper = itemSchema === false ? prefix.length : Math.min(maxItems, Math.max(minItems, prefix.length, 1) + 2);
  const count = depth >= DEEP ? Math.max(minItems, Math.min(prefix.length, upper)) : context.random.integer(Math.max(minItems, prefix.length === 0 ? 0 : Math.min(prefix.length, upper)), upper);
  const items: unknown[] = [];
  const seen = new Set<string>();
  for (let index = 0; index < count; index++) {
    const member = prefix[index] ?? itemSchema;
    let value = generate(member, context, depth + 1);
    for (let retry = 0; schema.uniqueItems === true && seen.has(JSON.stringify(value)) && retry < 20; retry++) value = generate(member, context, depth + 1);
    if (schema.uniqueItems === true && seen.has(JSON.stringify(value)) && index >= minItems) break;
    seen.add(JSON.stringify(value));
    items.push(value);
  }
  return items;
}

function generateObject(schema: SchemaObject, context: Context, depth: number): Record<string, unknown> {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((key) => typeof key === "string") : []);
  const result: Record<string, unknown> = {};
  for (const [key, propertySchema] of Object.entries(properties)) {
    if (!required.has(key) && (depth >= DEEP || !context.random.chance(0.6))) continue;
    result[key] = generate(propertySchema as JsonSchema, context, depth + 1);
  }
  for (const key of required) if (!(key in result)) result[key] = generateWord(context.random);
  const additional = schema.additionalProperties;
  const minProperties = typeof schema.minProperties === "number" ? schema.minProperties : 0;
  if (additional !== undefined && additional !== false && Object.keys(properties).length === 0) {
    const extraCount = depth >= DEEP ? minProperties : context.random.integer(Math.max(minProperties, 1), Math.max(minProperties, 3));
    for (let index = 0; Object.keys(result).length < extraCount && index < extraCount * 4; index++) {
      result[`${generateWord(context.random)}_${index}`] = generate(isObject(additional) ? additional : {}, context, depth + 1);
    }
  }
  return result;
}
