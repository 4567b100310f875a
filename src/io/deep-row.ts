/**
 * A Parquet or Arrow row from a file whose schema nests deeper than `MAX_NESTING_DEPTH`: converted,
 * then walked, and kept only when this row's values stay within the limit; otherwise (or when the
 * conversion itself runs out of stack) it is a row error naming the row. Files with a shallower
 * schema, that is every real one, never come here: their rows cannot be too deep.
 */
import { nestingProblem } from "../core/nesting-depth.js";
import type { SourceRow } from "./source.js";

export function deepRow(index: number, convert: () => Record<string, unknown>, where: string): SourceRow {
  let value: Record<string, unknown>;
  try {
    value = convert();
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return { index, value: {}, error: `${where}: the row nests too deeply to decode (${error.message})` };
  }
  const problem = nestingProblem(value);
  return problem === undefined ? { index, value } : { index, value: {}, error: `${where}: the row ${problem}` };
}
