/**
 * A run against a simulator injecting every fault kind at once: it completes, every row is an
 * output or an error record with its cause, nothing is duplicated. And an engine that dies stops
 * the run resumably instead of turning the remaining rows into error records.
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
  work = mkdtempSync(join(tmpdir(), "faults-"));
});
afterAll(async () => {
  await Promise.all(simulators.map((simulator) => simulator.close()));
  rmSync(work, { recursive: true, force: true });
});

describe("faults", () => {
  it("survives 500s, 503s, resets, 429 with Retry-After, hangs, invalid and truncated JSON", async () => {
    const simulator = await startSimulator({
      port: 0, model: "sim-model", profile: "instant", seed: 7,
      faults: { http500: 0.05, http503: 0.03, http429: 0.04, retryAfterSeconds: 1, resetBeforeBody: 0.03, resetMidBody: 0.03, hang: 0.01, invalidJson: 0.08, truncatedJson: 0.05 },
    });
    simulators.push(simulator);
    const input = join(work, "rows.jsonl");
    const rows = 400;
    writeFileSync(input, questionLines(rows));
    const out = join(work, "mixed");
    const result = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env: { SIM_URL: simulator.url, SIM_TIMEOUT_MS: "1500" } });
    expect(result.code, result.stderr).toBe(0);

    const stats = simulator.stats();
    for (const kind of ["http500", "http503", "http429", "resetBeforeBody", "resetMidBody", "hang", "invalidJson", "truncatedJson"] as const) {
      expect(stats.faults[kind], `the simulator never injected ${kind}`).toBeGreaterThan(0);
    }
    const sets = checkExactlyOnce(out, nodes);
    const filtered = Array.from({ length: rows }, (_, i) => i).filter((i) => `Question number ${i}:`.includes("7:")).length;
    expect(sets.rootIds.size + filtered).toBe(rows);
    expect(readShards(out, "qa")).toHaveLength(rows - readShards(out, "errors").length);
    for (const error of readShards(out, "errors")) {
      const cause = error.error as { type: string; message: string; attempts: number };
      expect(["SCHEMA_MISMATCH", "ENGINE_REQUEST"]).toContain(cause.type);
      expect(cause.message.length).toBeGreaterThan(0);
      expect(cause.attempts).toBeGreaterThan(0);
      if (cause.type === "SCHEMA_MISMATCH") expect(typeof error.raw).toBe("string");
    }
  }, 90_000);

  it("pauses on a dead engine and exits resumably after --engine-down-timeout, then resumes", async () => {
    const simulator = await startSimulator({ port: 0, model: "sim-model", profile: "instant", faults: { deadAfterRequests: 60 } });
    simulators.push(simulator);
    const input = join(work, "dead.jsonl");
    writeFileSync(input, questionLines(200));
    const out = join(work, "dead");
    const env = { SIM_URL: simulator.url };
    const stopped = await runCli(["run", chainFile, "-i", input, "-o", out, "--engine-down-timeout", "2", "--concurrency", "8"], { env });
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain("ENGINE_DOWN");
    expect(stopped.stdout).toContain("resume with:");
    // Rows sent to the dead engine are not error records: they wait for the resume.
    expect(readShards(out, "errors")).toHaveLength(0);
    const partial = checkExactlyOnce(out, nodes);
    expect(partial.rootIds.size).toBeLessThan(200);

    simulator.setFaults({});
    const resumed = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    const all = checkExactlyOnce(out, nodes);
    expect(readShards(out, "qa")).toHaveLength(200);
    expect(all.rootIds.size).toBeGreaterThan(partial.rootIds.size);
  }, 60_000);
});
