import { writeFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { openSource } from "../../src/io/open-source.js";
import { readAll } from "./read-all.js";
import { useTempFolder } from "./temp-folder.js";

const file = useTempFolder("jsonl");

describe("JSONL source", () => {
  it("reads rows with indexes and end offsets, skipping blank lines, handling BOM and CRLF", async () => {
    const path = file("basic.jsonl");
    writeFileSync(path, '\uFEFF{"a":1}\r\n\r\n{"a":2}\n   \n{"a":"é"}');
    const rows = await readAll(await openSource(path));
    expect(rows).toEqual([
      { index: 0, value: { a: 1 }, raw: '{"a":1}', end: 12 },
      { index: 1, value: { a: 2 }, raw: '{"a":2}', end: 22 },
      { index: 2, value: { a: "é" }, raw: '{"a":"é"}', end: 36 },
    ]);
  });

  it("turns malformed lines, non-objects and invalid UTF-8 into row errors naming the line", async () => {
    const path = file("bad.jsonl");
    const invalid = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]);
    writeFileSync(path, Buffer.concat([Buffer.from('{"a":1}\n{"a":\n[1,2]\n'), invalid, Buffer.from('{"a":5}\n')]));
    const rows = await readAll(await openSource(path));
    expect(rows.map((row) => row.index)).toEqual([0, 1, 2, 3, 4]);
    expect(rows[1]?.error).toMatch(/^line 2: invalid JSON/);
    expect(rows[2]?.error).toBe("line 3: expected a JSON object, got an array");
    expect(rows[3]?.error).toBe("line 4: invalid UTF-8 bytes");
    expect(rows[4]?.value).toEqual({ a: 5 });
  });

  it("resumes by seeking to an offset, or by counting lines without one", async () => {
    const path = file("resume.jsonl");
    writeFileSync(path, Array.from({ length: 1000 }, (_, index) => JSON.stringify({ index }) + "\n").join(""));
    const all = await readAll(await openSource(path), { row: 0 }, 100);
    const seventh = all[699];
    expect(seventh?.value).toEqual({ index: 699 });
    const bySeek = await readAll(await openSource(path), { row: 700, offset: seventh?.end ?? 0 });
    const byCount = await readAll(await openSource(path), { row: 700 });
    expect(bySeek).toEqual(all.slice(700));
    expect(byCount).toEqual(all.slice(700));
  });

  it("keeps a 1 MB field whole across 64 KB chunks", async () => {
    const path = file("big.jsonl");
    const big = "x".repeat(1024 * 1024);
    writeFileSync(path, `{"a":1}\n{"big":"${big}"}\n{"a":3}\n`);
    const rows = await readAll(await openSource(path));
    expect(rows.map((row) => row.index)).toEqual([0, 1, 2]);
    expect((rows[1]?.value.big as string).length).toBe(big.length);
    expect(rows[2]?.end).toBe(big.length + 27);
  });

  it("reads an empty file as no rows", async () => {
    const path = file("empty.jsonl");
    writeFileSync(path, "");
    expect(await readAll(await openSource(path))).toEqual([]);
  });

  it("reads .gz files, without offsets", async () => {
    const path = file("rows.jsonl.gz");
    writeFileSync(path, gzipSync('{"a":1}\n{"a":2}\n'));
    const source = await openSource(path);
    expect(source.format).toBe("jsonl.gz");
    expect(await readAll(source, { row: 1 })).toEqual([{ index: 1, value: { a: 2 }, raw: '{"a":2}' }]);
  });

  it("reads stdin for -", async () => {
    const stdin = new PassThrough();
    stdin.end('{"a":1}\n{"a":2}\n');
    const rows = await readAll(await openSource("-", { stdin }));
    expect(rows).toEqual([
      { index: 0, value: { a: 1 }, raw: '{"a":1}' },
      { index: 1, value: { a: 2 }, raw: '{"a":2}' },
    ]);
  });

  it("selects and renames columns, applies --limit, and rejects a column the first row lacks", async () => {
    const path = file("columns.jsonl");
    writeFileSync(path, '{"a":1,"b":2,"c":3}\n{"a":4,"b":5,"c":6}\n{"a":7,"b":8,"c":9}\n');
    const source = await openSource(path, { columns: [{ name: "a", from: "a" }, { name: "x", from: "c" }], limit: 2 });
    expect((await readAll(source)).map((row) => row.value)).toEqual([
      { a: 1, x: 3 },
      { a: 4, x: 6 },
    ]);
    const wrong = await openSource(path, { columns: [{ name: "z", from: "z" }] });
    await expect(readAll(wrong)).rejects.toThrow(/"z".*available columns: a, b, c/);
  });

  it("gives one clear INPUT_UNREADABLE error for a missing file", async () => {
    await expect(openSource(file("nope.jsonl"))).rejects.toMatchObject({ code: "INPUT_UNREADABLE" });
  });
});
