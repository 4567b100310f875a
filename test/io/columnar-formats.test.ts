import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Binary, DateDay, Field, Int64, List, Struct, Table, TimestampMillisecond, Utf8, tableToIPC, vectorFromArray } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { openSource } from "../../src/io/open-source.js";
import { duckdbRows } from "./duckdb-query.js";
import { expectChainetteError } from "./expect-chainette-error.js";
import { readAll } from "./read-all.js";
import { useTempFolder } from "./temp-folder.js";

const file = useTempFolder("columnar");
const HF_ARROW = join(import.meta.dirname, "../../fixtures/hf/synthetic-sensitive-data-arrow");

const typedSelect = `SELECT i AS id, 9007199254740993::BIGINT + i AS big, TIMESTAMP '2024-01-02 03:04:05' + INTERVAL (i) SECOND AS ts,
  DATE '2024-01-02' AS day, '\\x00\\xFF'::BLOB AS bin, {'a': 'x' || i, 'b': [i, i + 1]} AS st,
  CASE WHEN i % 2 = 0 THEN NULL ELSE ['p', 'q'] END AS li, CASE WHEN i % 3 = 0 THEN NULL ELSE i * 0.5 END AS maybe
  FROM range(5000) t(i)`;

describe("Parquet edge cases", () => {
  it("reads ZSTD pages and nested, int64, timestamp, date and binary columns faithfully", async () => {
    const path = file("typed.parquet");
    await duckdbRows(`COPY (${typedSelect}) TO '${path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048)`);
    const source = await openSource(path);
    expect(await source.totalRows()).toBe(5000);
    const rows = await readAll(source);
    expect(rows[1]?.value).toEqual({
      id: 1, big: "9007199254740994", ts: "2024-01-02T03:04:06.000Z", day: "2024-01-02T00:00:00.000Z", bin: "AP8=",
      st: { a: "x1", b: [1, 2] }, li: ["p", "q"], maybe: 0.5,
    });
    expect(rows[0]?.value).toMatchObject({ li: null, maybe: null });
    expect(JSON.stringify(rows.map((row) => row.value))).toContain('"id":4999');
    expect(await readAll(source, { row: 4097 })).toEqual(rows.slice(4097));
  });

  it("fails a truncated Parquet file before the first row with INPUT_UNREADABLE naming it", async () => {
    const path = file("whole.parquet");
    await duckdbRows(`COPY (SELECT range AS i FROM range(100)) TO '${path}' (FORMAT parquet)`);
    const bytes = readFileSync(path);
    writeFileSync(file("cut.parquet"), bytes.subarray(0, bytes.length - 100));
    await expectChainetteError(openSource(file("cut.parquet")), "INPUT_UNREADABLE", /cut\.parquet as Parquet/);
  });

  it("reads a hub layout folder, picking a split with --split and listing splits without it", async () => {
    const folder = file("hub");
    mkdirSync(join(folder, "data"), { recursive: true });
    for (const [split, shard, count] of [["train", 0, 10], ["train", 1, 5], ["test", 0, 3]] as const) {
      const name = `${split}-0000${shard}-of-00002.parquet`;
      await duckdbRows(`COPY (SELECT '${split}${shard}' AS s, range AS i FROM range(${count})) TO '${join(folder, "data", name)}' (FORMAT parquet)`);
    }
    await expectChainetteError(openSource(folder), "USAGE", /splits: test, train/);
    const train = await openSource(folder, { split: "train" });
    const rows = await readAll(train);
    expect(rows.map((row) => `${String(row.value.s)}:${String(row.value.i)}`).slice(8, 12)).toEqual(["train0:8", "train0:9", "train1:0", "train1:1"]);
    expect(await train.totalRows()).toBe(15);
    expect(await readAll(train, { row: 12 })).toEqual(rows.slice(12));
  });
});

describe("Arrow edge cases", () => {
  it("reads the IPC file format with nested, int64, timestamp, date and binary columns", async () => {
    const table = new Table({
      big: vectorFromArray([1n, 9007199254740993n, null], new Int64()),
      ts: vectorFromArray([new Date("2024-01-02T03:04:05Z"), null, new Date(0)], new TimestampMillisecond()),
      day: vectorFromArray([new Date("2024-01-02"), null, new Date(0)], new DateDay()),
      bin: vectorFromArray([new Uint8Array([0, 255]), null, new Uint8Array([])], new Binary()),
      st: vectorFromArray([{ a: "x" }, null, { a: "y" }], new Struct([new Field("a", new Utf8(), true)])),
      li: vectorFromArray([["a", "b"], [], null], new List(new Field("item", new Utf8(), true))),
    });
    const path = file("typed.arrow");
    writeFileSync(path, tableToIPC(table, "file"));
    const source = await openSource(path);
    expect(await source.totalRows()).toBe(3);
    expect((await readAll(source)).map((row) => row.value)).toEqual([
      { big: 1, ts: "2024-01-02T03:04:05.000Z", day: "2024-01-02T00:00:00.000Z", bin: "AP8=", st: { a: "x" }, li: ["a", "b"] },
      { big: "9007199254740993", ts: null, day: null, bin: null, st: null, li: [] },
      { big: null, ts: "1970-01-01T00:00:00.000Z", day: "1970-01-01T00:00:00.000Z", bin: "", st: { a: "y" }, li: null },
    ]);
  });

  it("reads a DatasetDict folder with --split, and lists the splits when it is missing or unknown", async () => {
    const folder = file("dict");
    for (const split of ["train", "test"]) {
      mkdirSync(join(folder, split), { recursive: true });
      copyFileSync(join(HF_ARROW, "data-00000-of-00001.arrow"), join(folder, split, "data-00000-of-00002.arrow"));
      copyFileSync(join(HF_ARROW, "data-00000-of-00001.arrow"), join(folder, split, "data-00001-of-00002.arrow"));
      writeFileSync(join(folder, split, "state.json"), JSON.stringify({
        _data_files: [{ filename: "data-00000-of-00002.arrow" }, { filename: "data-00001-of-00002.arrow" }],
      }));
    }
    writeFileSync(join(folder, "dataset_dict.json"), JSON.stringify({ splits: ["train", "test"] }));
    await expectChainetteError(openSource(folder), "USAGE", /needs --split; its splits: train, test/);
    await expectChainetteError(openSource(folder, { split: "dev" }), "USAGE", /no split "dev"/);
    const source = await openSource(folder, { split: "test" });
    expect(await source.totalRows()).toBe(5744);
    const tail = await readAll(source, { row: 2870 });
    expect(tail.map((row) => row.index).slice(0, 4)).toEqual([2870, 2871, 2872, 2873]);
    expect(tail[2]?.value).toEqual((await readAll(source, { row: 0 }, 1))[0]?.value);
  });

  it("fails a truncated Arrow file with INPUT_UNREADABLE", async () => {
    const bytes = readFileSync(join(HF_ARROW, "data-00000-of-00001.arrow"));
    writeFileSync(file("cut.arrow"), bytes.subarray(0, 100_000));
    await expectChainetteError(openSource(file("cut.arrow")), "INPUT_UNREADABLE", /truncated/);
  });
});
