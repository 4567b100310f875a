/**
 * `--format parquet` survives SIGKILL: the real CLI is killed mid-run (requests in flight, staging
 * shards half written, shards being sealed), resumed until it completes, and every row must then
 * be in the Parquet shards exactly once, with no staging or temporary file left.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ledger } from "../../src/durability/ledger.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { measurePrompt } from "../fixtures/chains/typed-chain.js";
import { runCli, startCli } from "../helpers/cli.js";
import { parquetRecords } from "./format-helpers.js";

const rows = 900;
let simulator: Simulator;
let work: string;
let input: string;
const prompts = Array.from({ length: rows }, (_, index) => `Prompt number ${index}: is this safe?${"!".repeat(index % 11)}`);

beforeAll(async () => {
  // Llama-3.1-8B-on-H100 timings, 20x faster; with 8 requests in flight the run takes ~5 s (commits every second).
  simulator = await startSimulator({ port: 0, model: "sim-model", timeScale: 20 });
  work = mkdtempSync(join(tmpdir(), "formats-crash-"));
  input = join(work, "prompts.jsonl");
  writeFileSync(input, prompts.map((prompt) => JSON.stringify({ prompt })).join("\n") + "\n");
});
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

/** Root rows the ledger in `outDir` holds as done; 0 before the ledger exists. */
function committedRows(outDir: string): number {
  const path = join(outDir, "ledger.sqlite");
  if (!existsSync(path)) return 0;
  try {
    const ledger = Ledger.open(path, { readonly: true });
    try {
      return ledger.done().count();
    } finally {
      ledger.close();
    }
  } catch {
    return 0;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

describe("--format parquet crash and resume", () => {
  it("loses and repeats no row across SIGKILLs, and leaves only sealed shards", async () => {
    const out = join(work, "out");
    const args = ["run", "test/fixtures/chains/typed-chain.ts", "-i", input, "-o", out, "--format", "parquet", "--max-lines-per-file", "50", "--concurrency", "8", "--quiet"];
    const env = { SIM_URL: simulator.url };
    let kills = 0;
    const doneAfterKills: number[] = [];
    // Each kill waits for a commit beyond the last one (so it lands mid-run whatever the machine's
    // load), then a little longer: inside a staging write, a seal, or between requests.
    for (const extraMs of [0, 150, 400]) {
      const before = committedRows(out);
      const { child, done } = startCli(args, { env });
      let exited = false;
      void done.then(() => (exited = true));
      while (!exited && committedRows(out) <= before) await sleep(40);
      await sleep(extraMs);
      child.kill("SIGKILL");
      if ((await done).signal !== "SIGKILL") break;
      kills++;
      doneAfterKills.push(committedRows(out));
    }
    expect(kills, "the run finished before it could be killed: slow the simulator down").toBeGreaterThan(0);
    expect(doneAfterKills.some((done) => done > 0 && done < rows), `rows done after each kill: ${doneAfterKills.join(", ")}`).toBe(true);
    const final = await runCli(args, { env });
    expect(final.stderr).toBe("");
    expect(final.code).toBe(0);

    const all = prompts.map((_, index) => String(index));
    const judged = await parquetRecords(out, "judge");
    expect(judged.map((record) => record.row_id)).toEqual(all);
    const measured = await parquetRecords(out, "measure");
    const measurable = all.filter((_, index) => (prompts[index] ?? "").length % 7 !== 0);
    expect(measured.map((record) => record.row_id)).toEqual(measurable);
    expect(measured.map(({ row_id: _rowId, ...rest }) => rest)).toEqual(measurable.map((id) => measurePrompt(prompts[Number(id)] ?? "")));
    const flattened = await parquetRecords(out, "flattened");
    const errors = await parquetRecords(out, "errors");
    expect(errors.length).toBe(rows - measurable.length);
    expect(errors.length).toBeGreaterThan(0);
    expect(flattened.map((record) => record.row_id)).toEqual(measurable);
    expect([...flattened, ...errors].map((record) => Number(record.row_id)).sort((a, b) => a - b)).toEqual(all.map(Number));

    for (const folder of ["judge", "measure", "flattened", "errors"]) {
      expect(existsSync(join(out, folder, ".staging")), `${folder}/.staging`).toBe(false);
      expect(readdirSync(join(out, folder)).filter((name) => !/^\d{3}\.parquet$/.test(name)), folder).toEqual([]);
    }
  });
});
