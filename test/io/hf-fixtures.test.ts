import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tableFromIPC } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { openSource } from "../../src/io/open-source.js";
import { duckdbRows } from "./duckdb-query.js";
import { readAll } from "./read-all.js";

const HF = join(import.meta.dirname, "../../fixtures/hf");
const PARQUET = join(HF, "smollm2-customs-parquet");
const ARROW = join(HF, "synthetic-sensitive-data-arrow");

describe("real Hugging Face exports", () => {
  it("reads the 3-shard ZSTD hub Parquet export, every value equal to what DuckDB reads", async () => {
    const source = await openSource(PARQUET);
    expect(source.format).toBe("parquet");
    expect(await source.totalRows()).toBe(139);
    const rows = await readAll(source, { row: 0 }, 50);
    expect(rows.map((row) => row.index)).toEqual(Array.from({ length: 139 }, (_, index) => index));
    const expected = await duckdbRows(
      `SELECT * EXCLUDE (filename, file_row_number)
       FROM read_parquet('${PARQUET}/*.parquet', filename = true, file_row_number = true)
       ORDER BY filename, file_row_number`,
    );
    expect(rows.map((row) => row.value)).toEqual(expected);
    expect(typeof rows[0]?.value.adi_score).toBe("number");
  });

  it("resumes the Parquet export mid-shard and in a later shard", async () => {
    const source = await openSource(PARQUET);
    const all = await readAll(source);
    expect(await readAll(source, { row: 30 })).toEqual(all.slice(30));
    expect(await readAll(source, { row: 100 })).toEqual(all.slice(100));
    expect(await readAll(source, { row: 139 })).toEqual([]);
  });

  it("reads the save_to_disk Arrow stream folder: 2872 rows, int64 labels as numbers", async () => {
    const source = await openSource(ARROW);
    expect(source.format).toBe("arrow");
    expect(await source.totalRows()).toBe(2872);
    const rows = await readAll(source);
    const table = tableFromIPC(readFileSync(join(ARROW, "data-00000-of-00001.arrow")));
    expect(rows).toHaveLength(table.numRows);
    const texts = table.getChild("text")?.toArray() as string[];
    const labels = Array.from(table.getChild("label")?.toArray() as BigInt64Array, Number);
    expect(rows.map((row) => row.value)).toEqual(texts.map((text, index) => ({ text, label: labels[index] })));
    expect(JSON.stringify(rows[0]?.value)).toContain('"label":0');
    expect(await readAll(source, { row: 2500 })).toEqual(rows.slice(2500));
  });

  it("selects and renames columns of the Parquet export, and names the available ones on a typo", async () => {
    const source = await openSource(PARQUET, { columns: [{ name: "question", from: "prompt" }], limit: 5 });
    const rows = await readAll(source);
    expect(rows).toHaveLength(5);
    expect(Object.keys(rows[0]?.value ?? {})).toEqual(["question"]);
    await expect(openSource(PARQUET, { columns: [{ name: "x", from: "promt" }] })).rejects.toThrow(
      /"promt".*available columns: prompt, system_prompt, adi_score/,
    );
  });
});
