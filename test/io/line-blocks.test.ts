import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { contentEnd, lineBlocks } from "../../src/io/line-splitter.js";

/** Every line of the blocks, as its content bytes and the absolute offset just past it. */
async function linesOf(chunks: Buffer[], offset: number): Promise<{ text: string; end: number; ascii: boolean }[]> {
  const lines: { text: string; end: number; ascii: boolean }[] = [];
  for await (const block of lineBlocks(Readable.from(chunks, { objectMode: true }), { offset })) {
    let position = 0;
    while (position < block.bytes.length) {
      const found = block.bytes.indexOf(0x0a, position);
      const newline = found === -1 ? block.bytes.length : found;
      const stop = contentEnd(block.bytes, position, newline);
      const text = block.ascii === undefined ? block.bytes.toString("utf8", position, stop) : block.ascii.slice(position, stop);
      position = newline + 1;
      lines.push({ text, end: block.offset + Math.min(position, block.bytes.length), ascii: block.ascii !== undefined });
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

  it("decodes pure ASCII blocks to one string and leaves other blocks to be decoded line by line", async () => {
    const lines = await linesOf([Buffer.from('{"a":1}\n{"a":2}\n'), Buffer.from('{"a":"é"}\n')], 0);
    expect(lines.map((line) => line.ascii)).toEqual([true, true, false]);
  });
});
