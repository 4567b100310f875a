import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RecordLines } from "../../src/pipeline/record-lines.js";
import { createRootRow, type NodeRecord } from "../../src/pipeline/row.js";

/** What the lines must parse to, built the slow obvious way. */
function expected(rowId: string, input: Record<string, unknown>, outputs: [string, unknown][]): { nodes: unknown[]; flattened: unknown } {
  const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value) ?? "null");
  const flattened: Record<string, unknown> = { row_id: rowId, ...(plain(input) as object) };
  const nodes = outputs.map(([node, output]) => {
    const value = plain(output);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      flattened[node] = value;
      return { row_id: rowId, value };
    }
    const record: Record<string, unknown> = { row_id: rowId };
    for (const [field, fieldValue] of Object.entries(value)) {
      record[field === "row_id" ? "_row_id" : field] = fieldValue;
      flattened[`${node}.${field}`] = fieldValue;
    }
    return record;
  });
  return { nodes, flattened };
}

function linesFor(input: Record<string, unknown>, outputs: [string, unknown][], raw: string | undefined, shareRecords: boolean): { nodes: unknown[]; flattened: unknown } {
  const lines = new RecordLines(outputs.map(([node]) => node));
  const row = createRootRow(7, input, undefined, raw);
  const records: NodeRecord[] = outputs.map(([node, output]) => {
    row.setOutput(node, output);
    return { node, rowId: row.id, output, latencyMs: 0, inputTokens: 0, outputTokens: 0 };
  });
  const nodes = records.map((record) => JSON.parse(lines.node(record)) as unknown);
  return { nodes, flattened: JSON.parse(lines.flattened(row, shareRecords ? records : undefined)) as unknown };
}

const key = fc.oneof(fc.constantFrom("row_id", "a", "b", "__proto__x", "1", "é"), fc.string({ maxLength: 6 }));
const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(undefined, Number.NaN, Infinity, -0, new Date(0)));

describe("RecordLines", () => {
  it("writes node and flattened records equal to stringifying them whole, for any outputs", () => {
    fc.assert(
      fc.property(
        fc.dictionary(key.filter((k) => k !== "row_id"), fc.jsonValue({ maxDepth: 2 })),
        fc.array(fc.tuple(fc.constantFrom("n1", "n2", "n3"), fc.oneof(fc.dictionary(key, value), value)), { maxLength: 3 }),
        fc.boolean(),
        fc.boolean(),
        (input, outputList, keepRaw, shareRecords) => {
          const outputs = [...new Map(outputList)].filter(([, output]) => output !== undefined);
          const raw = keepRaw ? ` ${JSON.stringify(input)}\t` : undefined;
          expect(linesFor(input, outputs, raw, shareRecords)).toEqual(expected("7", input, outputs));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("keeps an input column named row_id as chain_input.row_id, and an empty input as no columns", () => {
    const lines = new RecordLines([]);
    expect(lines.flattened(createRootRow(3, { row_id: "theirs", a: 1 }, undefined))).toBe('{"row_id":"3","a":1,"chain_input.row_id":"theirs"}');
    expect(lines.flattened(createRootRow(4, {}, undefined, "{ }"))).toBe('{"row_id":"4"}');
  });

  it("takes a class instance's fields as JSON.stringify sees them, and keeps reasoning", () => {
    class Answer {
      constructor(readonly text: string, private readonly secret = "hidden") {}
      toJSON(): unknown {
        return { text: this.text, length: this.secret.length };
      }
    }
    const lines = new RecordLines(["qa"]);
    const record: NodeRecord = { node: "qa", rowId: "5", output: new Answer("hi"), reasoning: "because", latencyMs: 0, inputTokens: 0, outputTokens: 0 };
    expect(lines.node(record)).toBe('{"row_id":"5","text":"hi","length":6,"_reasoning":"because"}');
  });
});
