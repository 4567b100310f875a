import { existsSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { openSource } from "../../src/io/open-source.js";
import { jsonColumn, parquetColumnsFromJsonSchema, stringColumn } from "../../src/io/parquet-columns.js";
import { writeParquetShard } from "../../src/io/parquet-writer.js";
import { duckdbRows } from "./duckdb-query.js";
import { readAll } from "./read-all.js";
import { useTempFolder } from "./temp-folder.js";

const file = useTempFolder("parquet-writer");

const Output = z.object({
  answer: z.string(),
  confidence: z.number(),
  votes: z.number().int(),
  ok: z.boolean(),
  label: z.enum(["yes", "no"]),
  note: z.string().nullable(),
  maybe: z.number().optional(),
  source: z.object({ title: z.string(), page: z.number().int().nullable() }),
  tags: z.array(z.string()),
  spans: z.array(z.object({ start: z.number().int(), end: z.number().int() })),
  extra: z.union([z.string(), z.number()]),
});

const rows = Array.from({ length: 300 }, (_, index) => ({
  row_id: String(index),
  answer: `answer ${index} é`,
  confidence: index / 300,
  votes: index * 1_000_000_000,
  ok: index % 2 === 0,
  label: index % 3 === 0 ? "yes" : "no",
  note: index % 5 === 0 ? null : `note ${index}`,
  ...(index % 7 === 0 ? {} : { maybe: index + 0.5 }),
  source: { title: `t${index}`, page: index % 4 === 0 ? null : index },
  tags: index % 6 === 0 ? [] : ["a", `b${index}`],
  spans: [{ start: index, end: index + 1 }],
  extra: index % 2 === 0 ? "text" : index,
  error: index % 10 === 0 ? { type: "SCHEMA_MISMATCH", attempts: 3 } : null,
}));

const columns = [stringColumn("row_id"), ...parquetColumnsFromJsonSchema(z.toJSONSchema(Output)), jsonColumn("error")];

describe("Parquet shard writer", () => {
  it("maps a zod output schema to typed columns", () => {
    expect(columns.map((column) => `${column.name}:${column.kind}${column.nullable ? "?" : ""}`)).toEqual([
      "row_id:string", "answer:string", "confidence:double", "votes:int64", "ok:boolean", "label:string",
      "note:string?", "maybe:double?", "source:struct", "tags:list", "spans:list", "extra:json", "error:json?",
    ]);
  });

  it("writes a shard that DuckDB reads with the right type in every column and the same values", async () => {
    const path = file("000.parquet");
    await writeParquetShard(path, rows, columns, { rowGroupSize: 128 });
    expect(readdirSync(file(""))).toEqual(["000.parquet"]);
    const types = await duckdbRows(`SELECT column_name, column_type, "null" FROM (DESCRIBE SELECT * FROM read_parquet('${path}'))`);
    expect(Object.fromEntries(types.map((type) => [type.column_name, `${String(type.column_type)} ${String(type.null)}`]))).toEqual({
      row_id: "VARCHAR YES", answer: "VARCHAR YES", confidence: "DOUBLE YES", votes: "BIGINT YES", ok: "BOOLEAN YES",
      label: "VARCHAR YES", note: "VARCHAR YES", maybe: "DOUBLE YES", source: "STRUCT(title VARCHAR, page BIGINT) YES",
      tags: "VARCHAR[] YES", spans: "STRUCT(\"start\" BIGINT, \"end\" BIGINT)[] YES", extra: "VARCHAR YES", error: "VARCHAR YES",
    });
    const read = await duckdbRows(`SELECT * FROM read_parquet('${path}') ORDER BY CAST(row_id AS INTEGER)`);
    expect(read).toHaveLength(300);
    const sample = read[35] ?? {};
    expect(sample).toMatchObject({ row_id: "35", answer: "answer 35 é", votes: String(35_000_000_000), ok: false, label: "no" });
    expect(sample).toMatchObject({ note: null, maybe: null, source: { title: "t35", page: "35" }, extra: "35" });
    expect(sample.tags).toEqual(["a", "b35"]);
    expect(read[30]).toMatchObject({ note: null, extra: '"text"', error: '{"type":"SCHEMA_MISMATCH","attempts":3}', tags: [] });
  });

  it("is read back by our own reader as the same plain values", async () => {
    const path = file("001.parquet");
    await writeParquetShard(path, rows, columns, { rowGroupSize: 100 });
    const source = await openSource(path);
    expect(await source.totalRows()).toBe(300);
    const back = await readAll(source, { row: 250 });
    expect(back[0]?.value).toEqual({
      ...rows[250], maybe: 250.5, note: null, extra: '"text"', error: '{"type":"SCHEMA_MISMATCH","attempts":3}',
    });
  });

  it("refuses a value that does not fit its column, naming the row and column, and leaves no shard", async () => {
    const path = file("002.parquet");
    const bad = [{ ...rows[0], confidence: "high" }];
    await expect(writeParquetShard(path, bad, columns)).rejects.toThrow(/row "0": column "confidence" expects a number/);
    expect(existsSync(path)).toBe(false);
  });
});
