/**
 * Requests that never come back must not hold a run: with default settings (no timeoutMs) a run
 * with hung requests completes, every row exactly once; and a run that stops on --max-error-rate
 * exits while requests are still hanging, even under an explicit 10-minute timeoutMs. The old
 * behaviour (600 s per hung attempt, exit waiting for every request in flight) shows as a test
 * timeout: nothing here measures time.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, readShards, runCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";

const chainFile = "test/fixtures/chains/qa-chain.ts";
const nodes = ["qa", "count", "keep", "split"];
let work: string;
const simulators: Simulator[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "hung-"));
});
afterAll(async () => {
  await Promise.all(simulators.map((simulator) => simulator.close()));
  rmSync(work, { recursive: true, force: true });
});

describe("hung requests", () => {
  it("a 500-row run with 1% hung requests and default settings completes, each row once", async () => {
    const simulator = await startSimulator({ port: 0, model: "sim-model", profile: "instant", seed: 11, faults: { hang: 0.01 } });
    simulators.push(simulator);
    const input = join(work, "rows.jsonl");
    const rows = 500;
    writeFileSync(input, questionLines(rows));
    const out = join(work, "hang");
    const result = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env: { SIM_URL: simulator.url } });
    expect(result.code, result.stderr).toBe(0);
    expect(simulator.stats().faults.hang).toBeGreaterThan(0);
    // Hung attempts were retried, not turned into failures.
    expect(readShards(out, "errors")).toHaveLength(0);
    expect(readShards(out, "qa")).toHaveLength(rows);
    const filtered = Array.from({ length: rows }, (_, i) => i).filter((i) => `Question number ${i}:`.includes("7:")).length;
    expect(checkExactlyOnce(out, nodes).rootIds.size + filtered).toBe(rows);
  }, 90_000);

  it("an error-rate stop exits while requests still hang (timeoutMs 600 000)", async () => {
    // The first two requests hang for good; every other reply is invalid JSON, so the rows fail.
    const simulator = await startSimulator({ port: 0, model: "sim-model", profile: "instant", faults: { hang: [1, 2], invalidJson: 1 } });
    simulators.push(simulator);
    const input = join(work, "failing.jsonl");
    writeFileSync(input, questionLines(2000));
    const out = join(work, "failing");
    const stopped = await runCli(["run", chainFile, "-i", input, "-o", out, "--max-error-rate", "0.5", "--concurrency", "16"], {
      env: { SIM_URL: simulator.url, SIM_TIMEOUT_MS: "600000" },
    });
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain("ERROR_RATE");
    expect(stopped.stdout).toContain("resume with:");
    expect(simulator.stats().faults.hang).toBe(2);
    expect(readShards(out, "errors").length).toBeGreaterThanOrEqual(100);
  }, 60_000);
});
