/**
 * The split behind `--shard I/N`, on real files: every row of the input lands in exactly one shard,
 * with its global row_id, for JSONL by byte ranges (CRLF, multibyte text, blank lines, a last line
 * without newline, more shards than lines) and for Parquet by row groups across files; and
 * `--shard auto` reads a Slurm array's and a Kubernetes Indexed Job's environment.
 */
import { writeFileSync } from "node:fs";
import fc from "fast-check";
import { parquetWriteBuffer } from "hyparquet-writer";
import { describe, expect, it } from "vitest";
import { countRowsInRange, jsonlByteRange } from "../../src/io/jsonl-byte-ranges.js";
import { openSource } from "../../src/io/open-source.js";
import { RowRangeSource } from "../../src/io/row-range-source.js";
import type { Source, SourceRow } from "../../src/io/source.js";
import { unitRange } from "../../src/job/shard-input.js";
import { resolveShard } from "../../src/job/shard-spec.js";
import { ChainetteError } from "../../src/errors.js";
import { useTempFolder } from "../io/temp-folder.js";

const file = useTempFolder("shard-split");

async function readAll(source: Source): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  for await (const batch of source.read({ row: 0 }, { batchSize: 7 })) rows.push(...batch);
  return rows;
}

/** `run` throws a USAGE error whose message matches. */
function expectUsage(run: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ChainetteError);
  expect((caught as ChainetteError).code).toBe("USAGE");
  expect((caught as ChainetteError).message).toMatch(pattern);
}

const describeRow = (row: SourceRow): string => `${row.index}:${row.error === undefined ? JSON.stringify(row.value) : "error"}`;

/** The rows of every JSONL shard, split as `--shard i/N` splits, each shard reading only its bytes. */
async function jsonlShards(path: string, size: number, count: number): Promise<SourceRow[][]> {
  const whole = await openSource(path);
  const shards: SourceRow[][] = [];
  let firstRow = 0;
  for (let index = 0; index < count; index++) {
    const range = await jsonlByteRange(path, size, index, count);
    const rows = await countRowsInRange(path, range);
    shards.push(await readAll(new RowRangeSource(whole, { firstRow, endRow: firstRow + rows, byteStart: range.start })));
    firstRow += rows;
  }
  return shards;
}

const line = fc.oneof(
  fc.record({ id: fc.nat(), text: fc.string({ unit: "grapheme", maxLength: 12 }) }).map((value) => JSON.stringify(value)),
  fc.constantFrom("", "  ", "\t", "not json", "[1,2]", '{"emoji":"😀🚀","é":"ü"}'),
);

describe("splitting JSONL by bytes", () => {
  it("puts every row in exactly one shard with its global row_id (CRLF, multibyte, blank lines, no final newline)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(line, fc.constantFrom("\n", "\r\n")), { maxLength: 40 }), fc.boolean(), fc.integer({ min: 1, max: 50 }), async (lines, finalNewline, count) => {
        let text = lines.map(([content, end]) => content + end).join("");
        if (!finalNewline && lines.length > 0) text = text.replace(/\r?\n$/, "");
        const path = file("property.jsonl");
        writeFileSync(path, text);
        const size = Buffer.byteLength(text);
        const expected = (await readAll(await openSource(path))).map(describeRow);
        const shards = await jsonlShards(path, size, count);
        expect(shards.flat().map(describeRow)).toEqual(expected);
      }),
      { numRuns: 120 },
    );
  });

  it("gives shards beyond the line count nothing, and never splits a line", async () => {
    const path = file("three.jsonl");
    const text = '{"a":"ééé"}\r\n{"a":"😀"}\n{"a":3}';
    writeFileSync(path, text);
    const shards = await jsonlShards(path, Buffer.byteLength(text), 16);
    expect(shards.filter((rows) => rows.length > 0)).toHaveLength(3);
    expect(shards.flat().map((row) => [row.index, row.value])).toEqual([[0, { a: "ééé" }], [1, { a: "😀" }], [2, { a: 3 }]]);
  });

  it("counts only rows: blank lines take no row_id, a final line without newline does", async () => {
    const path = file("count.jsonl");
    const text = '\n  \r\n{"a":1}\r\n\n{"a":2}';
    writeFileSync(path, text);
    expect(await countRowsInRange(path, { start: 0, end: Buffer.byteLength(text) })).toBe(2);
  });
});

describe("splitting Parquet by row groups", () => {
  it("keeps row groups whole, spans files, and covers every row once", async () => {
    const paths = [file("parts/a.parquet"), file("parts/b.parquet")];
    const { mkdirSync } = await import("node:fs");
    mkdirSync(file("parts"), { recursive: true });
    const sizes = [23, 17];
    let next = 0;
    for (const [position, path] of paths.entries()) {
      const data = Array.from({ length: sizes[position] ?? 0 }, () => next++);
      writeFileSync(path, Buffer.from(parquetWriteBuffer({ columnData: [{ name: "n", data, type: "INT32" }], rowGroupSize: 5 })));
    }
    const whole = await openSource(file("parts"));
    const units = whole.rowUnits?.() ?? [];
    expect(units).toEqual([5, 5, 5, 5, 3, 5, 5, 5, 2]);
    const groupStarts = new Set(units.reduce<number[]>((starts, rows) => [...starts, (starts.at(-1) ?? 0) + rows], [0]));
    for (const count of [1, 2, 3, 4, 9, 12]) {
      const rows: SourceRow[] = [];
      let expectedFirst = 0;
      for (let index = 0; index < count; index++) {
        const range = unitRange(units, { index, count });
        expect(range.firstRow, `shard ${index}/${count} starts where the one before ends`).toBe(expectedFirst);
        expect(groupStarts.has(range.firstRow), `shard ${index}/${count} starts inside a row group`).toBe(true);
        expectedFirst = range.endRow;
        rows.push(...(await readAll(new RowRangeSource(whole, range))));
      }
      expect(expectedFirst).toBe(40);
      expect(rows.map((row) => [row.index, row.value.n])).toEqual(Array.from({ length: 40 }, (_, n) => [n, n]));
    }
  });
});

describe("--shard", () => {
  it("takes I/N and refuses what is not a shard of N", () => {
    expect(resolveShard("3/16", {})).toEqual({ index: 3, count: 16 });
    expectUsage(() => resolveShard("16/16", {}), /index 16 is not below the count 16/);
    expectUsage(() => resolveShard("1/0", {}), /count must be 1 to/);
    expectUsage(() => resolveShard("2", {}), /I\/N/);
    expectUsage(() => resolveShard("1/4", {}, "4"), /--shard-count goes with --shard auto/);
  });

  it("auto: a Slurm array task is its index from the array's first, of the array's count (or of --shard-count)", () => {
    const env = { SLURM_ARRAY_TASK_ID: "6", SLURM_ARRAY_TASK_MIN: "4", SLURM_ARRAY_TASK_MAX: "7", SLURM_ARRAY_TASK_COUNT: "4" };
    expect(resolveShard("auto", env)).toEqual({ index: 2, count: 4 });
    // One index resubmitted alone (sbatch --array=3) names the count: the array index is the shard.
    expect(resolveShard("auto", { SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_MIN: "3", SLURM_ARRAY_TASK_MAX: "3", SLURM_ARRAY_TASK_COUNT: "1" }, "4")).toEqual({ index: 3, count: 4 });
    expectUsage(() => resolveShard("auto", { SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_COUNT: "1" }, "4"), /index 4 is not below the count 4/);
    expectUsage(() => resolveShard("auto", { SLURM_ARRAY_TASK_ID: "1" }), /SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT are not/);
    // --array=0-6:2 has 4 tasks over 7 indices: not one shard per index.
    expectUsage(() => resolveShard("auto", { SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_MAX: "6", SLURM_ARRAY_TASK_COUNT: "4" }), /--array=0-3/);
  });

  it("auto: a Kubernetes Indexed Job's JOB_COMPLETION_INDEX, with the count from --shard-count or CHAINETTE_SHARD_COUNT", () => {
    expect(resolveShard("auto", { JOB_COMPLETION_INDEX: "7", CHAINETTE_SHARD_COUNT: "8" })).toEqual({ index: 7, count: 8 });
    expect(resolveShard("auto", { JOB_COMPLETION_INDEX: "0" }, "3")).toEqual({ index: 0, count: 3 });
    expectUsage(() => resolveShard("auto", { JOB_COMPLETION_INDEX: "1" }), /--shard-count N or set CHAINETTE_SHARD_COUNT/);
    expectUsage(() => resolveShard("auto", { JOB_COMPLETION_INDEX: "8", CHAINETTE_SHARD_COUNT: "8" }), /not below the count 8/);
    expectUsage(() => resolveShard("auto", {}), /neither SLURM_ARRAY_TASK_ID .* nor JOB_COMPLETION_INDEX/);
  });
});
