/**
 * Decodes one JSON text (a JSONL line, a JSON array element) into a row value, or says why not.
 * A row must be a JSON object; invalid UTF-8 is a row error, never a crash and never silent
 * replacement characters. A row nested deeper than `MAX_NESTING_DEPTH` levels is a row error too
 * (later stages walk values recursively); only a text long enough to nest that deep is walked.
 */
import { isUtf8 } from "node:buffer";
import { MIN_TEXT_LENGTH_TO_CHECK, nestingProblem } from "../core/nesting-depth.js";

export type DecodedRow = { value: Record<string, unknown>; text: string; error?: undefined } | { value?: undefined; error: string };

/** Why a text is not a row (returned, not thrown: bad rows are data, not exceptions). */
export class RowDecodeError {
  constructor(readonly message: string) {}
}

const REPLACEMENT_CHARACTER = "\uFFFD";
const MAX_MESSAGE_LENGTH = 200;

export function decodeJsonRow(buffer: Buffer, start: number, stop: number): DecodedRow {
  const text = buffer.toString("utf8", start, stop);
  if (text.includes(REPLACEMENT_CHARACTER) && !isUtf8(buffer.subarray(start, stop))) {
    return { error: "invalid UTF-8 bytes" };
  }
  const value = parseJsonRow(text);
  return value instanceof RowDecodeError ? { error: value.message } : { value, text };
}

/** Parses a decoded JSON text: the row object, or why it is not one. */
export function parseJsonRow(text: string): Record<string, unknown> | RowDecodeError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return new RowDecodeError(`invalid JSON: ${shorten((error as Error).message)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return new RowDecodeError(`expected a JSON object, got ${describeJsonValue(value)}`);
  }
  if (text.length >= MIN_TEXT_LENGTH_TO_CHECK) {
    const problem = nestingProblem(value);
    if (problem !== undefined) return new RowDecodeError(`the row ${problem}`);
  }
  return value as Record<string, unknown>;
}

export function describeJsonValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

function shorten(message: string): string {
  return message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH)}...` : message;
}
