/**
 * `--retry-errors`: rows that failed in an earlier session run again, and afterwards every row is
 * still exactly once (its old error record and partial outputs gone), with counts to match.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, readShards, runCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";

const chainFile = "test/fixtures/chains/qa-chain.ts";
const nodes = ["qa", "count", "keep", "split"];
let simulator: Simulator;
let work: string;

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, model: "sim-model", profile: "instant", seed: 3 });
  work = mkdtempSync(join(tmpdir(), "retry-"));
});
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

describe("--retry-errors", () => {
  it("re-runs failed rows once the cause is gone, leaving every row exactly once", async () => {
    const rows = 300;
    const input = join(work, "rows.jsonl");
    writeFileSync(input, questionLines(rows));
    const out = join(work, "out");
    const env = { SIM_URL: simulator.url };
    // About a third of the requests are answered 429 with no retries allowed: those rows fail. (Not
    // 500s: three in a row mark the endpoint down, and calls that wait out a down endpoint go again,
    // so how many rows fail would depend on timing.)
    simulator.setFaults({ http429: 0.3 });
    const first = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet", "--max-lines-per-file", "40"], { env: { ...env, SIM_MAX_RETRIES: "0" } });
    expect(first.code, first.stderr).toBe(0);
    const failed = readShards(out, "errors").length;
    expect(failed).toBeGreaterThan(20);

    // Without the flag, failed rows stay failed and nothing is sent.
    simulator.setFaults({});
    const plain = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env });
    expect(plain.code).toBe(0);
    expect(readShards(out, "errors")).toHaveLength(failed);

    const retried = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet", "--retry-errors", "--max-lines-per-file", "40"], { env });
    expect(retried.code, retried.stderr).toBe(0);
    expect(readShards(out, "errors")).toHaveLength(0);
    const sets = checkExactlyOnce(out, nodes);
    const filtered = Array.from({ length: rows }, (_, i) => i).filter((i) => `Question number ${i}:`.includes("7:")).length;
    expect(sets.rootIds.size + filtered).toBe(rows);
    expect(readShards(out, "qa")).toHaveLength(rows);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { rows: { in: number; ok: number; failed: number; filtered: number } };
    expect(summary.rows.in).toBe(rows);
    expect(summary.rows.failed).toBe(0);
    expect(summary.rows.ok).toBe(readShards(out, "flattened").length);
  }, 60_000);
  it("takes the filtered leaves of a redone fan-out root out of the counts with it", async () => {
    const rows = 50;
    const input = join(work, "numbers.jsonl");
    writeFileSync(input, Array.from({ length: rows }, (_, n) => `${JSON.stringify({ n })}\n`).join(""));
    const out = join(work, "fanout");
    const chain = "test/fixtures/chains/fanout-partial-chain.ts";
    const first = await runCli(["run", chain, "-i", input, "-o", out, "--quiet"], { env: { FAIL_FROM: "0" } });
    expect(first.code, first.stderr).toBe(0);
    const before = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { rows: Record<string, number> };
    expect(before.rows).toMatchObject({ in: rows, ok: rows, failed: rows, filtered: rows });

    const retried = await runCli(["run", chain, "-i", input, "-o", out, "--quiet", "--retry-errors"], { env: {} });
    expect(retried.code, retried.stderr).toBe(0);
    const after = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { rows: Record<string, number>; nodes: Record<string, Record<string, number>> };
    expect(after.rows).toMatchObject({ in: rows, ok: 2 * rows, failed: 0, filtered: rows });
    expect(after.nodes.check).toMatchObject({ ok: 2 * rows, failed: 0, filtered: rows });
    expect(readShards(out, "flattened")).toHaveLength(2 * rows);
    expect(readShards(out, "errors")).toHaveLength(0);
  }, 60_000);
});
