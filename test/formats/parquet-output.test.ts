/**
 * `--format parquet` through the real CLI: an LLM step (against the simulator) and a typed apply
 * over the hub Parquet fixture, read back with DuckDB, types checked column by column and values
 * checked against the same run in JSONL; untyped outputs as JSON text; resume and recovery.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { measurePrompt } from "../fixtures/chains/typed-chain.js";
import { readShards, runCli } from "../helpers/cli.js";
import { arrowFixture, byRowId, folderFiles, hfFixtures, hubRows, parquetRecords, parquetTypes } from "./format-helpers.js";

const typedChain = "test/fixtures/chains/typed-chain.ts";
let simulator: Simulator;
let work: string;
let env: Record<string, string>;
let out: string;
let reference: string;

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model" });
  work = mkdtempSync(join(tmpdir(), "formats-parquet-"));
  env = { SIM_URL: simulator.url };
  out = join(work, "parquet");
  reference = join(work, "jsonl");
  const args = (dir: string, format: string): string[] => ["run", typedChain, "-i", hfFixtures, "-o", dir, "--format", format, "--max-lines-per-file", "40", "--quiet"];
  const [parquet, jsonl] = await Promise.all([runCli(args(out, "parquet"), { env }), runCli(args(reference, "jsonl"), { env })]);
  expect(parquet.stderr).toBe("");
  expect(parquet.code).toBe(0);
  expect(jsonl.code).toBe(0);
});
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

const requests = (): number => simulator.stats().requests.chatCompletions ?? 0;

describe("--format parquet", () => {
  it("writes only sealed NNN.parquet shards, rolling every --max-lines-per-file rows", async () => {
    expect(folderFiles(out, "judge")).toEqual(["000.parquet", "001.parquet", "002.parquet", "003.parquet"]);
    for (const folder of ["measure", "flattened", "errors"]) {
      expect(folderFiles(out, folder).every((name) => /^\d{3}\.parquet$/.test(name)), folder).toBe(true);
    }
    expect((await parquetRecords(out, "judge")).map((record) => record.row_id)).toEqual(Array.from({ length: 139 }, (_, index) => String(index)));
  });

  it("types every column from the schemas, as DuckDB reads them", async () => {
    const verdict = { label: "VARCHAR", score: "DOUBLE", votes: "BIGINT", flagged: "BOOLEAN", tags: "VARCHAR[]", source: "STRUCT(model VARCHAR, page BIGINT)", note: "VARCHAR" };
    const measure = { chars: "BIGINT", words: "VARCHAR[]", long: "BOOLEAN", ratio: "DOUBLE", shape: "STRUCT(lines BIGINT, \"first\" VARCHAR)" };
    expect(await parquetTypes(out, "judge")).toEqual({ row_id: "VARCHAR", ...verdict });
    expect(await parquetTypes(out, "measure")).toEqual({ row_id: "VARCHAR", ...measure });
    const flattened = await parquetTypes(out, "flattened");
    const prefixed = (node: string, types: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(types).map(([key, type]) => [`${node}.${key}`, type]));
    const hubColumns = Object.keys((await hubRows())[0] ?? {});
    // `prompt` is typed by the step's inputModel; the other input columns are untyped: JSON text.
    const input = Object.fromEntries(hubColumns.map((column) => [column, "VARCHAR"]));
    expect(flattened).toEqual({ row_id: "VARCHAR", ...input, ...prefixed("judge", verdict), ...prefixed("measure", measure) });
    expect(await parquetTypes(out, "errors")).toEqual({
      row_id: "VARCHAR", node: "VARCHAR", error: "STRUCT(\"type\" VARCHAR, message VARCHAR, attempts BIGINT, status BIGINT)", raw: "VARCHAR",
    });
  });

  it("stores the same values as the JSONL run, each row once across flattened/ and errors/", async () => {
    const hub = await hubRows();
    for (const folder of ["judge", "measure", "errors"]) {
      const expected = byRowId(readShards(reference, folder)).map((record) => (folder === "errors" ? { raw: null, ...record, error: { status: null, ...(record.error as object) } } : record));
      expect(await parquetRecords(out, folder), folder).toEqual(expected);
    }
    const measured = await parquetRecords(out, "measure");
    expect(measured.map(({ row_id: _rowId, ...rest }) => rest)).toEqual(hub.flatMap((row) => attempt(() => measurePrompt(String(row.prompt)))));
    const errors = await parquetRecords(out, "errors");
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.map((error) => (error.error as { type: string }).type)).toEqual(errors.map(() => "APPLY_FAILED"));
    const flattened = await parquetRecords(out, "flattened");
    expect([...flattened, ...errors].map((record) => Number(record.row_id)).sort((a, b) => a - b)).toEqual(hub.map((_, index) => index));

    const first = flattened[0] ?? {};
    const row = hub[Number(first.row_id)] ?? {};
    expect(first.prompt).toBe(row.prompt);
    expect(JSON.parse(String(first.adi_score))).toBe(row.adi_score);
    expect(JSON.parse(String(first.system_prompt))).toBe(row.system_prompt);
    const jsonl = readShards(reference, "flattened").find((record) => record.row_id === first.row_id) ?? {};
    expect(first["judge.source"]).toEqual(jsonl["judge.source"]);
    expect(first["measure.words"]).toEqual(jsonl["measure.words"]);
  });

  it("resumes a finished run without a request; refuses another format; removes files a crash left", async () => {
    const before = requests();
    const sizes = folderFiles(out, "judge").map((name) => statSync(join(out, "judge", name)).size);
    copyFileSync(join(out, "judge/000.parquet"), join(out, "judge/009.parquet"));
    writeFileSync(join(out, "judge/004.parquet.tmp"), "partial");
    const again = await runCli(["run", typedChain, "-i", hfFixtures, "-o", out, "--format", "parquet", "--max-lines-per-file", "40", "--quiet"], { env });
    expect(again.code).toBe(0);
    expect(requests()).toBe(before);
    expect(folderFiles(out, "judge")).toEqual(["000.parquet", "001.parquet", "002.parquet", "003.parquet"]);
    expect(folderFiles(out, "judge").map((name) => statSync(join(out, "judge", name)).size)).toEqual(sizes);

    const other = await runCli(["run", typedChain, "-i", hfFixtures, "-o", out, "--quiet", "--no-cache"], { env });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain("the output format changed from parquet to jsonl");
  });

  it("continues after a sealed last shard in a new shard, and stores untyped outputs as JSON text", async () => {
    const copy = join(work, "copy");
    const args = ["run", "test/fixtures/chains/copy-chain.ts", "-i", arrowFixture, "-o", copy, "--format", "parquet", "--max-lines-per-file", "1000", "--quiet"];
    expect((await runCli([...args, "--limit", "1500"])).code).toBe(0);
    expect(folderFiles(copy, "copy")).toEqual(["000.parquet", "001.parquet"]);
    const resumed = await runCli(args);
    expect(resumed.code).toBe(0);
    expect(folderFiles(copy, "copy")).toEqual(["000.parquet", "001.parquet", "002.parquet", "003.parquet"]);
    expect(await parquetTypes(copy, "copy")).toEqual({ row_id: "VARCHAR", text: "VARCHAR", label: "VARCHAR" });
    const records = await parquetRecords(copy, "copy");
    expect(records.map((record) => record.row_id)).toEqual(Array.from({ length: 2872 }, (_, index) => String(index)));
    expect(records[5]?.label).toMatch(/^[01]$/);
    expect(JSON.parse(String(records[5]?.text))).toEqual(expect.any(String));
    const summary = JSON.parse(readFileSync(join(copy, "summary.json"), "utf8")) as { status: string };
    expect(summary.status).toBe("complete");
  });
});

function attempt<T>(compute: () => T): T[] {
  try {
    return [compute()];
  } catch {
    return [];
  }
}
