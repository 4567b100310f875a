import { writeFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonlSource } from "../../src/io/jsonl-source.js";
import type { SourcePosition, SourceRow } from "../../src/io/source.js";
import { useTempFolder } from "./temp-folder.js";

const file = useTempFolder("jsonl-property");

/** What the source must give for these bytes, computed line by line the slow obvious way. */
function reference(bytes: Buffer): SourceRow[] {
  const rows: SourceRow[] = [];
  let start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let lineNumber = 0;
  while (start < bytes.length) {
    const found = bytes.indexOf(0x0a, start);
    const newline = found === -1 ? bytes.length : found;
    const stop = newline > start && bytes[newline - 1] === 0x0d ? newline - 1 : newline;
    const end = Math.min(newline + 1, bytes.length);
    const line = bytes.subarray(start, stop);
    start = newline + 1;
    lineNumber++;
    if (/^[ \t\r]*$/.test(line.toString("latin1"))) continue;
    const index = rows.length;
    const text = line.toString("utf8");
    let error: string | undefined;
    let value: unknown;
    if (text.includes("\uFFFD") && !Buffer.from(text).equals(line)) error = "invalid UTF-8 bytes";
    else {
      try {
        value = JSON.parse(text);
        if (typeof value !== "object" || value === null || Array.isArray(value)) error = "expected a JSON object";
      } catch {
        error = "invalid JSON";
      }
    }
    rows.push(error === undefined ? { index, value: value as Record<string, unknown>, raw: text, end } : { index, value: {}, end, error: `line ${lineNumber}: ${error}` });
  }
  return rows;
}

async function readRows(path: string, from: SourcePosition = { row: 0 }): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  for await (const batch of new JsonlSource(path, { gzip: false }).read(from, { batchSize: 7 })) rows.push(...batch);
  return rows;
}

/** A line: an object (ASCII, accented, CJK, emoji values), a broken one, a non-object, invalid UTF-8, blanks. */
const line = fc.oneof(
  fc.record({ text: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("é", "naïve café", "日本語のテキスト", "😀 ok", "a\\nb")), n: fc.integer() }).map((value) => Buffer.from(JSON.stringify(value))),
  fc.constantFrom("{\"broken\": ", "[1,2]", "42", "   ", "", "\t", "{}").map((text) => Buffer.from(text)),
  fc.constant(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
);

describe("JSONL source, against a line-by-line reference", () => {
  it("gives the same rows, values, errors and byte offsets for any mix of lines, and seeks to any of them", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(line, fc.constantFrom("\n", "\r\n")), { maxLength: 60 }), fc.boolean(), fc.integer({ min: 0, max: 3000 }), async (lines, bom, pad) => {
        // Padding moves the lines across the 64 KB block boundary.
        const parts = [Buffer.from(bom ? "\uFEFF" : ""), Buffer.from(`${JSON.stringify({ pad: "x".repeat(64 * 1024 - 40 - pad) })}\n`)];
        for (const [bytes, ending] of lines) parts.push(bytes, Buffer.from(ending));
        const bytes = Buffer.concat(parts);
        const path = file(`case-${run++}.jsonl`);
        writeFileSync(path, bytes);
        const expected = reference(bytes);
        const rows = await readRows(path);
        expect(rows.map((row) => ({ ...row, error: row.error?.replace(/^(line \d+: [^:]+?)(:.*)?$/, "$1").replace(/, got .*$/, "") }))).toEqual(expected);
        // A resume seeks to any row's offset and reads the same rows from there.
        const middle = expected[Math.floor(expected.length / 2)];
        const before = expected[Math.floor(expected.length / 2) - 1];
        if (middle !== undefined && before?.end !== undefined) {
          const resumed = await readRows(path, { row: middle.index, offset: before.end });
          expect(resumed.map((row) => row.value)).toEqual(expected.slice(middle.index).map((row) => row.value));
        }
      }),
      { numRuns: 120 },
    );
  });
});
