import { checkPath, type JsonSchema } from "./json-schema.js";

/**
 * Compares what a step's inputModel requires with the schema of what reaches it. Returns one line
 * per mismatch ("field `text` (string)"); an unknown upstream (untyped apply) is not checked.
 */
export function checkInputCompatible(input: JsonSchema, upstream: JsonSchema | undefined): string[] {
  if (upstream === undefined) return [];
  const properties = (input.properties ?? {}) as Record<string, JsonSchema>;
  const required = Array.isArray(input.required) ? (input.required as string[]) : [];
  const upstreamProperties = (upstream.properties ?? {}) as Record<string, JsonSchema>;
  const mismatches: string[] = [];
  for (const name of required) {
    const expected = properties[name];
    const label = `field \`${name}\`${expected?.type ? ` (${typeLabel(expected.type)})` : ""}`;
    if (checkPath(upstream, [name]) === "missing") {
      mismatches.push(label);
      continue;
    }
    const actual = upstreamProperties[name];
    if (expected?.type !== undefined && actual?.type !== undefined && !typesCompatible(expected.type, actual.type)) {
      mismatches.push(`${label}, got ${typeLabel(actual.type)}`);
    }
  }
  return mismatches;
}

function typesCompatible(expected: unknown, actual: unknown): boolean {
  const wanted = new Set(Array.isArray(expected) ? expected : [expected]);
  const got = Array.isArray(actual) ? actual : [actual];
  // An integer is a number; everything the upstream can be must be acceptable.
  return got.every((type) => wanted.has(type) || (type === "integer" && wanted.has("number")));
}

function typeLabel(type: unknown): string {
  if (typeof type === "string") return type;
  return Array.isArray(type) ? type.join(" | ") : JSON.stringify(type);
}
