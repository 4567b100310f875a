import { writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { openSource } from "../../src/io/open-source.js";
import { expectChainetteError } from "./expect-chainette-error.js";
import { readAll } from "./read-all.js";
import { useTempFolder } from "./temp-folder.js";

const file = useTempFolder("text-formats");

describe("CSV source", () => {
  it("reads quoted fields, embedded newlines, CRLF and a BOM; values are strings", async () => {
    const path = file("quoted.csv");
    writeFileSync(path, '\uFEFFid,text\r\n1,"hello, ""world"""\r\n2,"two\nlines"\r\n\r\n3,\r\n');
    const rows = await readAll(await openSource(path));
    expect(rows).toEqual([
      { index: 0, value: { id: "1", text: 'hello, "world"' } },
      { index: 1, value: { id: "2", text: "two\nlines" } },
      { index: 2, value: { id: "3", text: "" } },
    ]);
  });

  it("makes a record with the wrong field count a row error, and resumes by counting", async () => {
    const path = file("ragged.csv");
    writeFileSync(path, "a,b\n1,2\n3\n5,6\n");
    const rows = await readAll(await openSource(path));
    expect(rows[1]?.error).toBe("line 3: expected 2 fields as in the header, got 1");
    expect(await readAll(await openSource(path), { row: 2 })).toEqual([{ index: 2, value: { a: "5", b: "6" } }]);
  });

  it("reads a header-only or empty file as no rows, and keeps a 1 MB field", async () => {
    writeFileSync(file("header.csv"), "a,b\n");
    writeFileSync(file("empty.csv"), "");
    expect(await readAll(await openSource(file("header.csv")))).toEqual([]);
    expect(await readAll(await openSource(file("empty.csv")))).toEqual([]);
    const big = "y".repeat(1024 * 1024);
    writeFileSync(file("big.csv.gz"), gzipSync(`a,b\n1,"${big}"\n`));
    const rows = await readAll(await openSource(file("big.csv.gz")));
    expect((rows[0]?.value.b as string).length).toBe(big.length);
  });

  it("checks --columns against the header before the first row", async () => {
    writeFileSync(file("columns.csv"), "a,b\n1,2\n");
    const source = await openSource(file("columns.csv"), { columns: [{ name: "c", from: "c" }] });
    await expectChainetteError(readAll(source), "USAGE", /"c".*available columns: a, b/);
  });

  it("ends with INPUT_UNREADABLE on an unclosed quote", async () => {
    writeFileSync(file("unclosed.csv"), 'a,b\n1,"never closed\n');
    await expectChainetteError(readAll(await openSource(file("unclosed.csv"))), "INPUT_UNREADABLE", /unclosed\.csv as CSV/);
  });
});

describe("JSON array source", () => {
  it("streams elements, with row errors for non-objects, and resumes by offset or count", async () => {
    const path = file("rows.json");
    const elements = Array.from({ length: 600 }, (_, index) => ({ index, text: `a "quoted" ] } , ${index}`, nested: [{ x: [index] }] }));
    writeFileSync(path, `\uFEFF[\n  ${elements.map((element) => JSON.stringify(element)).join(",\n  ")},\n  42, "s", null\n]\n`);
    const source = await openSource(path);
    expect(source.format).toBe("json");
    const rows = await readAll(source);
    expect(rows).toHaveLength(603);
    expect(rows.slice(0, 600).map((row) => row.value)).toEqual(elements);
    expect(rows[600]?.error).toMatch(/array element 600 .*expected a JSON object, got a number/);
    expect(rows[601]?.error).toMatch(/got a string/);
    expect(rows[602]?.error).toMatch(/got null/);
    const resumeAt = rows[299]?.end ?? 0;
    expect(await readAll(source, { row: 300, offset: resumeAt })).toEqual(rows.slice(300));
    expect(await readAll(source, { row: 300 })).toEqual(rows.slice(300));
  });

  it("reads an empty array and a file of JSONL named .json", async () => {
    writeFileSync(file("empty.json"), " [ ] ");
    expect(await readAll(await openSource(file("empty.json")))).toEqual([]);
    writeFileSync(file("lines.json"), '{"a":1}\n{"a":2}\n');
    const source = await openSource(file("lines.json"));
    expect(source.format).toBe("jsonl");
    expect(await readAll(source)).toHaveLength(2);
  });

  it("ends with INPUT_UNREADABLE on a truncated array, after the complete elements", async () => {
    writeFileSync(file("truncated.json"), '[{"a":1},{"a":2},{"a":');
    const rows: unknown[] = [];
    const reading = (async () => {
      for await (const batch of (await openSource(file("truncated.json"))).read({ row: 0 }, { batchSize: 1 })) rows.push(...batch);
    })();
    await expectChainetteError(reading, "INPUT_UNREADABLE", /truncated\.json.*closing "\]"/);
    expect(rows).toHaveLength(2);
  });
});

describe("format detection", () => {
  it("sniffs content when the extension says nothing, and names the path and formats when it cannot", async () => {
    writeFileSync(file("rows.txt"), '{"a":1}\n');
    expect((await openSource(file("rows.txt"))).format).toBe("jsonl");
    writeFileSync(file("notes.txt"), "just some text\n");
    await expectChainetteError(openSource(file("notes.txt")), "INPUT_UNREADABLE", /notes\.txt.*expected \.jsonl, \.json/);
  });
});
