/**
 * Numbers within a JSON Schema's bounds: minimum/maximum, exclusiveMinimum/exclusiveMaximum (both
 * the draft-4 boolean form and the numeric form of later drafts) and multipleOf.
 */
import type { SeededRandom } from "./seeded-random.js";

type SchemaObject = { readonly [key: string]: unknown };

function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

/** The open/closed bounds of a numeric schema, as a closed range [low, high] with an epsilon. */
function bounds(schema: SchemaObject, integer: boolean): [number, number] {
  const step = integer ? 1 : 0.01;
  let low = numberOr(schema.minimum, Number.NEGATIVE_INFINITY);
  let high = numberOr(schema.maximum, Number.POSITIVE_INFINITY);
  if (typeof schema.exclusiveMinimum === "number") low = Math.max(low, schema.exclusiveMinimum + step);
  else if (schema.exclusiveMinimum === true) low += step;
  if (typeof schema.exclusiveMaximum === "number") high = Math.min(high, schema.exclusiveMaximum - step);
  else if (schema.exclusiveMaximum === true) high -= step;
  if (low === Number.NEGATIVE_INFINITY && high === Number.POSITIVE_INFINITY) return [0, 100];
  if (low === Number.NEGATIVE_INFINITY) return [high - 100, high];
  if (high === Number.POSITIVE_INFINITY) return [low, low + 100];
  return [low, high];
}

/** A number (or integer) valid against the schema's numeric keywords. */
export function generateNumber(schema: SchemaObject, random: SeededRandom, integer: boolean): number {
  const [low, high] = bounds(schema, integer);
  const multipleOf = numberOr(schema.multipleOf, 0);
  if (multipleOf > 0) {
    const first = Math.ceil(low / multipleOf);
    const last = Math.floor(high / multipleOf);
    const factor = random.integer(first, Math.max(first, last));
    // Round away floating-point noise (0.1 * 3 = 0.30000000000000004) without leaving the grid.
    const decimals = Math.max(0, -Math.floor(Math.log10(multipleOf)) + 2);
    return Number((factor * multipleOf).toFixed(Math.min(decimals, 12)));
  }
  if (integer) return random.integer(Math.ceil(low), Math.floor(high));
  const value = Math.round((low + random.next() * (high - low)) * 100) / 100;
  return Math.min(high, Math.max(low, value));
}
