import { describe, expect, it } from "vitest";
import { MAX_NESTING_DEPTH, MIN_TEXT_LENGTH_TO_CHECK, nestingProblem, nestsDeeperThan } from "../../src/core/nesting-depth.js";
import { parseJsonRow, RowDecodeError } from "../../src/io/json-row.js";

/** `levels` levels of objects and arrays, alternating, around `inner`. */
function nest(levels: number, inner: unknown = 0): unknown {
  let value = inner;
  for (let level = 0; level < levels; level++) value = level % 2 === 0 ? [value] : { child: value };
  return value;
}

describe("nesting depth", () => {
  it("counts objects and arrays, not scalars", () => {
    expect(nestsDeeperThan(7, 0)).toBe(false);
    expect(nestsDeeperThan("text", 0)).toBe(false);
    expect(nestsDeeperThan(null, 0)).toBe(false);
    expect(nestsDeeperThan({ a: 1, b: "x", c: null }, 1)).toBe(false);
    expect(nestsDeeperThan({ a: 1 }, 0)).toBe(true);
    expect(nestsDeeperThan({ a: [[1]] }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [[1]] }, 2)).toBe(true);
  });

  it("finds the deepest branch wherever it is, and accepts exactly the limit", () => {
    const value = { flat: 1, wide: [1, 2, { x: [] }], deep: [{ z: 1 }, nest(MAX_NESTING_DEPTH - 2)] };
    expect(nestsDeeperThan(value)).toBe(false);
    expect(nestsDeeperThan({ ...value, deeper: [0, nest(MAX_NESTING_DEPTH - 1)] })).toBe(true);
    expect(nestingProblem(nest(MAX_NESTING_DEPTH))).toBeUndefined();
    expect(nestingProblem(nest(MAX_NESTING_DEPTH + 1))).toBe(`nests deeper than ${MAX_NESTING_DEPTH} levels`);
  });

  it("walks 100,000 levels without the call stack", () => {
    expect(nestingProblem(nest(100_000))).toBe(`nests deeper than ${MAX_NESTING_DEPTH} levels`);
  });

  it("tells a value that contains itself from a deep one, and a shared value from either", () => {
    const circular: Record<string, unknown> = { name: "loop", items: [1, 2] };
    (circular.items as unknown[]).push({ back: circular });
    expect(nestingProblem(circular)).toBe("refers to itself (a circular structure cannot be written as JSON)");
    const shared = { x: 1 };
    expect(nestingProblem({ a: shared, b: [shared, shared] })).toBeUndefined();
  });

  it("makes a decoded row too deep for the limit a row error; a short text is never walked", () => {
    const text = `{"a":${"[".repeat(MAX_NESTING_DEPTH)}0${"]".repeat(MAX_NESTING_DEPTH)}}`;
    expect(text.length).toBeGreaterThanOrEqual(MIN_TEXT_LENGTH_TO_CHECK);
    expect(parseJsonRow(text)).toEqual(new RowDecodeError(`the row nests deeper than ${MAX_NESTING_DEPTH} levels`));
    const atLimit = `{"a":${"[".repeat(MAX_NESTING_DEPTH - 1)}0${"]".repeat(MAX_NESTING_DEPTH - 1)}}`;
    expect(parseJsonRow(atLimit)).not.toBeInstanceOf(RowDecodeError);
    // The shortest text that can nest past the limit: MAX + 1 brackets open and close.
    expect(`${"[".repeat(MAX_NESTING_DEPTH + 1)}${"]".repeat(MAX_NESTING_DEPTH + 1)}`.length).toBe(MIN_TEXT_LENGTH_TO_CHECK);
  });
});
