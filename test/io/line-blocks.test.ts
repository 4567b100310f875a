import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { contentEnd, lineBlocks } from "../../src/io/line-splitter.js";

/** Every line of the blocks, as its content bytes and the absolute offset just past it. */
async function linesOf(chunks: Buffer[], offset: number): Promise<{ text: string; end: number; decoded: "ascii" | "utf8" | "per line" }[]> {
  const lines: { text: string; end: number; decoded: "ascii" | "utf8" | "per line" }[] = [];
  for await (const block of lineBlocks(Readable.from(chunks, { objectMode: true }), { offset })) {
    // The block's text, where it has one, split at its newlines: one line per line of bytes.
    const texts = block.text?.split("\n");
    let position = 0;
    let line = 0;
    while (position < block.bytes.length) {
      const found = block.bytes.indexOf(0x0a, position);
      const newline = found === -1 ? block.bytes.length : found;
      const stop = contentEnd(block.bytes, position, newline);
      const fromText = texts?.[line++]?.replace(/\r$/, "");
      const text = fromText ?? block.bytes.toString("utf8", position, stop);
      position = newline + 1;
      lines.push({ text, end: block.offset + Math.min(position, block.bytes.length), decoded: block.text === undefined ? "per line" : block.ascii ? "ascii" : "utf8" });
    }
  }
  return lines;
}

/** The same, the slow obvious way: split the whole input at once. */
function referenceLines(input: Buffer, offset: number): { text: string; end: number }[] {
  let bytes = input;
  let base = offset;
  if (offset === 0 && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    bytes = bytes.subarray(3);
    base += 3;
  }
  const lines: { text: string; end: number }[] = [];
  let start = 0;
  while (start < bytes.length) {
    const found = bytes.indexOf(0x0a, start);
    const newline = found === -1 ? bytes.length : found;
    const stop = newline > start && bytes[newline - 1] === 0x0d ? newline - 1 : newline;
    lines.push({ text: bytes.toString("utf8", start, stop), end: base + Math.min(newline + 1, bytes.length) });
    start = newline + 1;
  }
  return lines;
}

const piece = fc.oneof(fc.constantFrom("\n", "\r\n", "{}", "é", "日本", "😀", " ", "\uFEFF"), fc.string({ maxLength: 12 }));

describe("lineBlocks", () => {
  it("gives the same lines and byte offsets as splitting the whole input, however it is chunked", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }), fc.constantFrom(0, 7), async (pieces, sizes, offset) => {
        const input = Buffer.from(pieces.join(""));
        const chunks: Buffer[] = [];
        for (let at = 0, k = 0; at < input.length; k++) {
          const size = sizes[k % sizes.length] ?? 1;
          chunks.push(input.subarray(at, at + size));
          at += size;
        }
        const lines = await linesOf(chunks, offset);
        expect(lines.map(({ text, end }) => ({ text, end }))).toEqual(referenceLines(input, offset));
      }),
      { numRuns: 300 },
    );
  });

  it("decodes a block of valid UTF-8 at once, and leaves a block with invalid UTF-8 to be decoded line by line", async () => {
    const invalid = Buffer.from([0x7b, 0x7d, 0xff, 0x0a]);
    const lines = await linesOf([Buffer.from('{"a":1}\n{"a":2}\n'), Buffer.from('{"a":"é"}\n{"b":"\uFFFD"}\n'), invalid], 0);
    expect(lines.map((line) => line.decoded)).toEqual(["ascii", "ascii", "utf8", "utf8", "per line"]);
    expect(lines[3]?.text).toBe('{"b":"\uFFFD"}');
  });
});
