import { openSync, symlinkSync, utimesSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { relative } from "node:path";
import { describe, expect, it } from "vitest";
import { fingerprintFiles, sampledRanges, WHOLE_FILE_BYTES } from "../../src/io/input-fingerprint.js";
import { useTempFolder } from "./temp-folder.js";

const path = useTempFolder("fingerprint");

/** Overwrites one byte at `position`, keeping the size. */
function poke(file: string, position: number, byte: string): void {
  const fd = openSync(file, "r+");
  writeSync(fd, byte, position);
  closeSync(fd);
}

function lines(bytes: number): string {
  const line = `${JSON.stringify({ text: "a row of some length to fill the file with" })}\n`;
  return line.repeat(Math.ceil(bytes / line.length));
}

describe("sampledRanges", () => {
  it("hashes a small file whole", () => {
    expect(sampledRanges(0)).toEqual([[0, 0]]);
    expect(sampledRanges(WHOLE_FILE_BYTES)).toEqual([[0, WHOLE_FILE_BYTES]]);
  });

  it("reads a bounded, ordered sample of a large file, from its first byte to its last", () => {
    for (const size of [WHOLE_FILE_BYTES + 1, 10 * 1024 ** 3]) {
      const ranges = sampledRanges(size);
      expect(ranges).toHaveLength(50);
      expect(ranges[0]?.[0]).toBe(0);
      const last = ranges.at(-1) ?? [0, 0];
      expect(last[0] + last[1]).toBe(size);
      ranges.slice(1).forEach(([position], index) => {
        const previous = ranges[index] ?? [0, 0];
        expect(position).toBeGreaterThanOrEqual(previous[0] + previous[1]);
      });
      expect(ranges.reduce((sum, [, length]) => sum + length, 0)).toBe(2 * 64 * 1024 + 48 * 4 * 1024);
    }
  });
});

describe("fingerprintFiles", () => {
  it("names a file by its real path and bytes: a relative path, a symlink and a touch give the same fingerprint", async () => {
    const file = path("rows.jsonl");
    writeFileSync(file, lines(100_000));
    const first = await fingerprintFiles(file, "jsonl", [file]);
    symlinkSync(file, path("link.jsonl"));
    const viaLink = await fingerprintFiles(path("link.jsonl"), "jsonl", [path("link.jsonl")]);
    const viaRelative = await fingerprintFiles(relative(process.cwd(), file), "jsonl", [relative(process.cwd(), file)]);
    utimesSync(file, new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));
    const touched = await fingerprintFiles(file, "jsonl", [file]);
    for (const other of [viaLink, viaRelative, touched]) expect(other.files).toEqual(first.files);
    expect(first.files[0]).not.toHaveProperty("mtimeMs");
  });

  it("changes with any byte of a small file, and with a sampled block of a large one", async () => {
    const small = path("small.jsonl");
    writeFileSync(small, lines(1_000_000));
    const before = await fingerprintFiles(small, "jsonl", [small]);
    poke(small, 500_000, "#");
    expect((await fingerprintFiles(small, "jsonl", [small])).files[0]?.sample).not.toBe(before.files[0]?.sample);

    const large = path("large.jsonl");
    writeFileSync(large, lines(WHOLE_FILE_BYTES * 3));
    const original = await fingerprintFiles(large, "jsonl", [large]);
    const middleBlock = sampledRanges(original.files[0]?.size ?? 0)[25] ?? [0, 0];
    poke(large, middleBlock[0] + 1, "#");
    const edited = await fingerprintFiles(large, "jsonl", [large]);
    expect(edited.files[0]?.size).toBe(original.files[0]?.size);
    expect(edited.files[0]?.sample).not.toBe(original.files[0]?.sample);
  });
});
