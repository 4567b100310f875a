/**
 * One row nested too deeply to walk (or an output that is, or that refers to itself) is that row's
 * error record, through the real CLI: the run completes with exit 0, every other row is written
 * once, and a second `run` on the OUTDIR (a resume) is a no-op that succeeds too. Before the depth
 * limit, such a row was a stack overflow that failed the run, and every resume of it, at that row.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Field, Int32, List, Table, tableToIPC, vectorFromArray, type DataType } from "apache-arrow";
import { describe, expect, it } from "vitest";
import type { ParquetColumn } from "../../src/io/parquet-columns.js";
import { writeParquetShard } from "../../src/io/parquet-writer.js";
import { chatCompletion, startTestServer } from "../engines/test-server.js";
import { readShards, runCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";
import { byRowId, folderFiles, parquetRecords } from "../formats/format-helpers.js";
import { useTempFolder } from "../io/temp-folder.js";

const copyChain = "test/fixtures/chains/copy-chain.ts";
const deepOutputChain = "test/fixtures/chains/deep-output-chain.ts";
const temp = useTempFolder("deep-rows");

/** JSON text of an object whose field `a` is `depth` levels of nested arrays: `{"a":[[…[0]…]]}` nests `depth + 1` levels. */
function deepRowText(depth: number): string {
  return `{"a":${"[".repeat(depth)}0${"]".repeat(depth)}}`;
}

/** Ten rows; row 4 nests 5,001 levels, row 7 exactly 1,000 (the limit, accepted). */
const inputTexts = Array.from({ length: 10 }, (_, index) => (index === 4 ? deepRowText(5000) : index === 7 ? deepRowText(999) : JSON.stringify({ a: index, text: `row ${index}` })));

interface Summary {
  status: string;
  sessions: number;
  rows: { in: number; ok: number; failed: number; filtered: number };
}

function readSummary(out: string): Summary {
  return JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as Summary;
}

/** Runs the same command twice: the first completes, the second (a resume) finds nothing to do. */
async function runTwice(args: readonly string[], out: string, read: () => Promise<unknown>, env: Record<string, string> = {}): Promise<Summary> {
  const first = await runCli(args, { env });
  expect(first.stderr).toBe("");
  expect(first.code).toBe(0);
  const written = await read();
  const summary = readSummary(out);
  expect(summary.status).toBe("complete");

  const second = await runCli(args, { env });
  expect(second.stderr).toBe("");
  expect(second.code).toBe(0);
  expect(await read()).toEqual(written);
  const resumed = readSummary(out);
  expect(resumed).toMatchObject({ status: "complete", sessions: 2, rows: summary.rows });
  return summary;
}

describe("a source row nested deeper than 1,000 levels", () => {
  for (const [format, text] of [
    ["JSON array", `[\n${inputTexts.join(",\n")}\n]\n`],
    ["JSONL", `${inputTexts.join("\n")}\n`],
  ] as const) {
    it(`is an INPUT_ROW error record in ${format} input; the other rows and a resume go on`, async () => {
      const input = temp(format === "JSONL" ? "deep.jsonl" : "deep.json");
      writeFileSync(input, text);
      const out = temp(`out-${format === "JSONL" ? "jsonl" : "json"}`);
      const args = ["run", copyChain, "-i", input, "-o", out, "--quiet"];
      const summary = await runTwice(args, out, () => Promise.resolve(checkExactlyOnce(out, ["copy"]).byFolder));

      const errors = readShards(out, "errors");
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ row_id: "4", node: "input", error: { type: "INPUT_ROW", attempts: 0 } });
      const where = format === "JSONL" ? "line 5: " : "array element 4 (ending at byte ";
      expect(String((errors[0]?.error as { message: string }).message)).toContain(where);
      expect(String((errors[0]?.error as { message: string }).message)).toMatch(/the row nests deeper than 1000 levels$/);

      const others = [0, 1, 2, 3, 5, 6, 7, 8, 9].map(String);
      expect(byRowId(readShards(out, "copy")).map((record) => record.row_id)).toEqual(others);
      expect(byRowId(readShards(out, "flattened")).map((record) => record.row_id)).toEqual(others);
      // The row at the limit is kept whole.
      const atLimit = readShards(out, "copy").find((record) => record.row_id === "7");
      expect(JSON.stringify(atLimit?.a)).toBe(`${"[".repeat(999)}0${"]".repeat(999)}`);
      expect(summary.rows).toEqual({ in: 10, ok: 9, failed: 1, filtered: 0 });
    });
  }
});

describe("a Parquet or Arrow row nested deeper than 1,000 levels", () => {
  // A schema of 1,100 nested lists: row 1 fills it, rows 0 and 2 stay shallow.
  const levels = 1100;
  let deepValue: unknown = 1;
  for (let level = 0; level < levels; level++) deepValue = [deepValue];
  const values = [[], deepValue, [[]]];

  async function check(input: string, name: string): Promise<void> {
    const out = temp(name);
    const summary = await runTwice(["run", copyChain, "-i", input, "-o", out, "--quiet"], out, () => Promise.resolve(checkExactlyOnce(out, ["copy"]).byFolder));
    expect(readShards(out, "errors")).toEqual([{ row_id: "1", node: "input", error: { type: "INPUT_ROW", message: `row 1 of ${input}: the row nests deeper than 1000 levels`, attempts: 0 } }]);
    expect(byRowId(readShards(out, "copy"))).toEqual([
      { row_id: "0", id: 0, a: [] },
      { row_id: "2", id: 2, a: [[]] },
    ]);
    expect(summary.rows).toEqual({ in: 3, ok: 2, failed: 1, filtered: 0 });
  }

  it("is an INPUT_ROW error record in Parquet input; the shallow rows of the same file are read", async () => {
    let column: ParquetColumn = { name: "element", kind: "int64", nullable: false };
    for (let level = 0; level < levels; level++) column = { name: level === levels - 1 ? "a" : "element", kind: "list", nullable: false, items: column };
    const input = temp("deep.parquet");
    await writeParquetShard(input, values.map((a, id) => ({ id, a })), [{ name: "id", kind: "int64", nullable: false }, column]);
    await check(input, "out-parquet");
  });

  it("is an INPUT_ROW error record in Arrow input; the shallow rows of the same file are read", async () => {
    let type: DataType = new Int32();
    for (let level = 0; level < levels; level++) type = new List(new Field("item", type, true));
    const input = temp("deep.arrow");
    writeFileSync(input, tableToIPC(new Table({ id: vectorFromArray([0, 1, 2], new Int32()), a: vectorFromArray(values, type) }), "file"));
    await check(input, "out-arrow");
  });
});

describe("an apply output that cannot be written", () => {
  // `grow` returns `tree` nested `depth` levels deep (its record nests one more), a circular object
  // for `circular`, and makes its outputModel's refinement throw for `boom`.
  const rows = [
    { id: 0, depth: 2 },
    { id: 1 },
    { id: 2, depth: 5000 },
    { id: 3, depth: 1000 },
    { id: 4, circular: true },
    { id: 5, boom: true },
    { id: 6, depth: 999 },
    { id: 7, depth: 1 },
  ];
  const expectedErrors = [
    { row_id: "2", message: "apply output nests deeper than 1000 levels" },
    { row_id: "3", message: "apply output nests deeper than 1000 levels" },
    { row_id: "4", message: "apply output refers to itself (a circular structure cannot be written as JSON)" },
    { row_id: "5", message: "apply output does not match its outputModel: checking the schema threw Error: the refinement cannot take id -5" },
  ];
  const okIds = ["0", "1", "6", "7"];
  const input = temp("grow.jsonl");
  writeFileSync(input, rows.map((row) => JSON.stringify(row)).join("\n") + "\n");

  function errorRecords(records: readonly Record<string, unknown>[]): { row_id: unknown; message: unknown }[] {
    return byRowId(records).map((record) => {
      expect(record).toMatchObject({ node: "grow", error: { type: "APPLY_FAILED", attempts: 1 } });
      return { row_id: record.row_id, message: (record.error as { message: unknown }).message };
    });
  }

  it("is that row's APPLY_FAILED record with --format jsonl; a resume is a no-op", async () => {
    const out = temp("grow-jsonl");
    const summary = await runTwice(["run", deepOutputChain, "-i", input, "-o", out, "--quiet"], out, () => Promise.resolve(checkExactlyOnce(out, ["grow"]).byFolder));
    expect(errorRecords(readShards(out, "errors"))).toEqual(expectedErrors);
    const grown = byRowId(readShards(out, "grow"));
    expect(grown.map((record) => record.row_id)).toEqual(okIds);
    expect(JSON.stringify(grown[2]?.tree)).toBe(`${"[".repeat(999)}6${"]".repeat(999)}`);
    expect(byRowId(readShards(out, "flattened")).map((record) => record.row_id)).toEqual(okIds);
    expect(summary.rows).toEqual({ in: 8, ok: 4, failed: 4, filtered: 0 });
  });

  it("is that row's APPLY_FAILED record with --format parquet, and every shard seals; a resume is a no-op", async () => {
    const out = temp("grow-parquet");
    const read = async (): Promise<unknown> => ({
      files: ["grow", "flattened", "errors"].map((folder) => folderFiles(out, folder)),
      grow: await parquetRecords(out, "grow"),
      flattened: await parquetRecords(out, "flattened"),
      errors: await parquetRecords(out, "errors"),
    });
    const summary = await runTwice(["run", deepOutputChain, "-i", input, "-o", out, "--format", "parquet", "--quiet"], out, read);
    for (const folder of ["grow", "flattened", "errors"]) expect(folderFiles(out, folder), folder).toEqual(["000.parquet"]);
    expect(errorRecords(await parquetRecords(out, "errors"))).toEqual(expectedErrors);
    const grown = await parquetRecords(out, "grow");
    expect(grown.map((record) => record.row_id)).toEqual(okIds);
    // `tree` is a union (no single Parquet type): a JSON text column, the deepest kept whole.
    expect(grown[2]?.tree).toBe(`${"[".repeat(999)}6${"]".repeat(999)}`);
    expect((await parquetRecords(out, "flattened")).map((record) => record.row_id)).toEqual(okIds);
    expect(summary.rows).toEqual({ in: 8, ok: 4, failed: 4, filtered: 0 });
  });
});

describe("an LLM reply nested deeper than 1,000 levels", () => {
  it("is an invalid reply (re-asked, then SCHEMA_MISMATCH with the raw text); the other rows and a resume go on", async () => {
    const deepReply = `{"data":${"[".repeat(5000)}1${"]".repeat(5000)}}`;
    // A real server on loopback: the row asking about "deep" always gets the deep reply.
    const server = await startTestServer((request) => {
      const messages = (request.body as { messages: { content: string }[] }).messages;
      return chatCompletion(messages[0]?.content.includes("deep") === true ? deepReply : '{"data":{"ok":true}}');
    });
    try {
      const input = temp("questions.jsonl");
      writeFileSync(input, ["plain 0", "plain 1", "deep 2", "plain 3"].map((text) => JSON.stringify({ text })).join("\n") + "\n");
      const out = temp("free-form");
      const args = ["run", "test/fixtures/chains/free-form-chain.ts", "-i", input, "-o", out, "--quiet"];
      const summary = await runTwice(args, out, () => Promise.resolve(checkExactlyOnce(out, ["extract"]).byFolder), { SIM_URL: server.url });
      expect(readShards(out, "errors")).toEqual([
        { row_id: "2", node: "extract", error: { type: "SCHEMA_MISMATCH", message: "no valid reply after 2 asking(s): reply nests deeper than 1000 levels", attempts: 2 }, raw: deepReply },
      ]);
      expect(byRowId(readShards(out, "extract"))).toEqual(["0", "1", "3"].map((row_id) => ({ row_id, data: { ok: true } })));
      expect(summary.rows).toEqual({ in: 4, ok: 3, failed: 1, filtered: 0 });
      // The first run asked twice for the deep row (one re-ask) and once for each other; the resume asked nothing.
      expect(server.requests).toHaveLength(5);
    } finally {
      await server.stop();
    }
  });
});
