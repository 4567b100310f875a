/**
 * `--retry-errors` leaves the done rows full of gaps (one per failed row) and drops the watermark to
 * the first of them, whose byte offset nobody knows. Resumes over such a ledger, with a reading
 * window small enough that commits land while the reader is still walking the gaps, and after a
 * SIGKILL that leaves the unknown offset in the ledger, must still write every row exactly once and
 * end equal to a run that never failed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ledger } from "../../src/durability/ledger.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, readShards, runCli, startCli } from "../helpers/cli.js";
import { checkExactlyOnce, type OutputSets } from "../helpers/exactly-once.js";

const chainFile = "test/fixtures/chains/qa-chain.ts";
const nodes = ["qa", "count", "keep", "split"];
const rows = 600;
let simulator: Simulator;
let work: string;
let input: string;
let env: Record<string, string>;
let reference: OutputSets;

const args = (out: string, ...extra: string[]): string[] => ["run", chainFile, "-i", input, "-o", out, "--max-lines-per-file", "50", "--quiet", ...extra];
/** A small reading window: the reader is still walking the gaps when the first commits land. */
const narrow = ["--concurrency", "4", "--batch-size", "4"];

beforeAll(async () => {
  // Llama-3.1-8B-on-H100 timings, 10x faster: a request takes ~60-100 ms.
  simulator = await startSimulator({ port: 0, model: "sim-model", timeScale: 10, seed: 5 });
  work = mkdtempSync(join(tmpdir(), "retry-resume-"));
  input = join(work, "questions.jsonl");
  writeFileSync(input, questionLines(rows));
  env = { SIM_URL: simulator.url };
  const clean = await runCli(args(join(work, "reference")), { env });
  expect(clean.code, clean.stderr).toBe(0);
  reference = checkExactlyOnce(join(work, "reference"), nodes);
}, 60_000);
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

/** A first run in which about a third of the rows fail (429s, no retries allowed). */
async function runWithFailures(out: string): Promise<number> {
  simulator.setFaults({ http429: 0.3 });
  try {
    const first = await runCli(args(out), { env: { ...env, SIM_MAX_RETRIES: "0" } });
    expect(first.code, first.stderr).toBe(0);
  } finally {
    simulator.setFaults({});
  }
  const failed = readShards(out, "errors").length;
  expect(failed).toBeGreaterThan(100);
  return failed;
}

function expectEqualToReference(out: string): void {
  const actual = checkExactlyOnce(out, nodes);
  for (const folder of [...nodes, "flattened", "errors"]) {
    expect(actual.byFolder.get(folder), `${folder}/ differs from the uninterrupted run`).toEqual(reference.byFolder.get(folder));
  }
  for (const record of readShards(out, "flattened")) expect(Number(String(record.row_id).split(".")[0])).toBeLessThan(rows);
}

function doneRows(out: string): number {
  const ledger = Ledger.open(join(out, "ledger.sqlite"), { readonly: true });
  try {
    return ledger.done().count();
  } finally {
    ledger.close();
  }
}

describe("resuming over the gaps --retry-errors opens", () => {
  it("sends no done row again while commits land during the reading", async () => {
    const out = join(work, "narrow");
    await runWithFailures(out);
    const retried = await runCli(args(out, "--retry-errors", ...narrow), { env });
    expect(retried.code, retried.stderr).toBe(0);
    expectEqualToReference(out);
  }, 60_000);

  it("ends equal to an uninterrupted run when the --retry-errors session is SIGKILLed partway", async () => {
    const out = join(work, "killed");
    const failed = await runWithFailures(out);
    const { child, done } = startCli(args(out, "--retry-errors", ...narrow), { env });
    // Kill once the session has taken the failed rows back (done drops) and committed some of them
    // again (done rises), well before it has retried them all.
    let exited = false;
    void done.then(() => (exited = true));
    let forgotten = false;
    const deadline = Date.now() + 30_000;
    while (!exited && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      const count = doneRows(out);
      if (count === rows - failed) forgotten = true;
      else if (forgotten && count > rows - failed) break;
    }
    child.kill("SIGKILL");
    const killed = await done;
    expect(killed.signal, `the --retry-errors session ended before it was killed: ${killed.stderr}`).toBe("SIGKILL");
    expect(doneRows(out)).toBeLessThan(rows);

    const resumed = await runCli(args(out, ...narrow), { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expectEqualToReference(out);
  }, 60_000);
});
