/**
 * OpenAI Structured Outputs accepts only a subset of JSON Schema when `strict: true`
 * (platform.openai.com/docs/guides/structured-outputs, "Supported schemas"):
 * - every object lists all its properties in `required` and has `additionalProperties: false`;
 *   an optional field is expressed as a required field that may be `null`;
 * - supported keywords: type, properties, required, additionalProperties, items, enum, const,
 *   anyOf, $ref/$defs, description, title; strings `pattern` and `format` (date-time, time, date,
 *   duration, email, hostname, ipv4, ipv6, uuid); numbers minimum/maximum/exclusive*, multipleOf;
 *   arrays minItems/maxItems. Everything else (minLength, maxLength, default, oneOf, not,
 *   if/then/else, patternProperties, uniqueItems, ...) is rejected.
 * `toOpenAiStrictSchema` rewrites a schema into that subset (oneOf becomes anyOf, other unsupported
 * keywords are dropped: the reply is still validated client-side against the full schema), and
 * `dropNullOptionals` turns the `null`s the model sends for optional fields back into absent keys.
 */
type Schema = Record<string, unknown>;

const keptKeywords = new Set([
  "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
  "$ref", "$defs", "definitions", "description", "title", "pattern", "format", "minimum", "maximum",
  "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
]);

const supportedFormats = new Set(["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"]);

function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function mapValues(map: unknown, transform: (schema: Schema) => Schema): Schema {
  const result: Schema = {};
  if (!isSchema(map)) return result;
  for (const [key, value] of Object.entries(map)) result[key] = isSchema(value) ? transform(value) : value;
  return result;
}

/** Makes `schema` also accept `null` (for a field that was optional). */
function nullable(schema: Schema): Schema {
  const { type } = schema;
  if (typeof type === "string" || Array.isArray(type)) {
    const types: unknown[] = Array.isArray(type) ? type : [type];
    if (types.includes("null")) return schema;
    const withNull: Schema = { ...schema, type: [...types, "null"] };
    if (Array.isArray(schema.enum)) withNull.enum = [...(schema.enum as unknown[]), null];
    return withNull;
  }
  if (Array.isArray(schema.anyOf)) return { ...schema, anyOf: [...(schema.anyOf as unknown[]), { type: "null" }] };
  return { anyOf: [schema, { type: "null" }] };
}

/** A copy of `schema` that OpenAI accepts with `strict: true`. The input is not modified. */
export function toOpenAiStrictSchema(schema: Schema): Schema {
  const result: Schema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword === "oneOf") result.anyOf = value;
    else if (keyword === "format" && !supportedFormats.has(String(value))) continue;
    else if (keptKeywords.has(keyword)) result[keyword] = value;
  }
  if (result.$defs !== undefined) result.$defs = mapValues(result.$defs, toOpenAiStrictSchema);
  if (result.definitions !== undefined) result.definitions = mapValues(result.definitions, toOpenAiStrictSchema);
  if (Array.isArray(result.anyOf)) {
    result.anyOf = (result.anyOf as unknown[]).map((item) => (isSchema(item) ? toOpenAiStrictSchema(item) : item));
  }
  if (isSchema(result.items)) result.items = toOpenAiStrictSchema(result.items);
  const isObject = result.type === "object" || (Array.isArray(result.type) && result.type.includes("object"));
  if (isObject || result.properties !== undefined) {
    const required = new Set(Array.isArray(result.required) ? (result.required as unknown[]) : []);
    result.properties = mapValues(result.properties, toOpenAiStrictSchema);
    const properties = result.properties as Schema;
    for (const [name, property] of Object.entries(properties)) {
      if (!required.has(name) && isSchema(property)) properties[name] = nullable(property);
    }
    result.required = Object.keys(properties);
    result.additionalProperties = false;
  }
  return result;
}

function allowsNull(schema: Schema): boolean {
  const { type } = schema;
  if (type === "null" || (Array.isArray(type) && type.includes("null"))) return true;
  const alternatives = schema.anyOf ?? schema.oneOf;
  return Array.isArray(alternatives) && alternatives.some((item) => isSchema(item) && allowsNull(item));
}

function resolve(schema: Schema, root: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/")) return schema;
  let target: unknown = root;
  for (const segment of ref.slice(2).split("/")) target = isSchema(target) ? target[segment] : undefined;
  return isSchema(target) ? target : {};
}

/**
 * Removes, in place, the `null` values that stand for absent optional fields of the original
 * (untransformed) `schema`. A `null` stays where the original schema itself allows `null`.
 */
export function dropNullOptionals(value: unknown, schema: Schema, root: Schema = schema): unknown {
  const resolved = resolve(schema, root);
  if (Array.isArray(value)) {
    if (isSchema(resolved.items)) for (const item of value) dropNullOptionals(item, resolved.items, root);
    return value;
  }
  if (!isSchema(value) || !isSchema(resolved.properties)) return value;
  const required = Array.isArray(resolved.required) ? (resolved.required as unknown[]) : [];
  for (const [name, property] of Object.entries(resolved.properties)) {
    if (!isSchema(property)) continue;
    const field = value[name];
    if (field === null && !required.includes(name) && !allowsNull(resolve(property, root))) delete value[name];
    else if (field !== undefined && field !== null) dropNullOptionals(field, property, root);
  }
  return value;
}
