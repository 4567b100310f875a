/**
 * `--max-error-rate` stops a run whose rows mostly fail (resumably, instead of filling errors/),
 * and `inspect` reads a run's ledger while the run is going.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { cliPath, questionLines, readShards, runCli, startCli } from "../helpers/cli.js";

const chainFile = "test/fixtures/chains/qa-chain.ts";
let work: string;
const simulators: Simulator[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "rate-"));
});
afterAll(async () => {
  await Promise.all(simulators.map((simulator) => simulator.close()));
  rmSync(work, { recursive: true, force: true });
});

describe("--max-error-rate", () => {
  it("stops the run once too many rows fail, and the run resumes when the cause is gone", async () => {
    const simulator = await startSimulator({ port: 0, model: "sim-model", profile: "instant", faults: { invalidJson: 1 } });
    simulators.push(simulator);
    const input = join(work, "rows.jsonl");
    writeFileSync(input, questionLines(2000));
    const out = join(work, "out");
    const env = { SIM_URL: simulator.url };
    const stopped = await runCli(["run", chainFile, "-i", input, "-o", out, "--max-error-rate", "0.5", "--concurrency", "16"], { env });
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain("ERROR_RATE");
    expect(stopped.stdout).toContain("resume with:");
    const failedFirst = readShards(out, "errors").length;
    expect(failedFirst).toBeGreaterThanOrEqual(100);
    expect(failedFirst).toBeLessThan(2000);

    simulator.setFaults({});
    const resumed = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet", "--max-error-rate", "0.5"], { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readShards(out, "errors")).toHaveLength(failedFirst);
    expect(readShards(out, "qa")).toHaveLength(2000 - failedFirst);
  }, 60_000);
});

describe("inspect", () => {
  it("reads a run's ledger while the run is going", async () => {
    const simulator = await startSimulator({ port: 0, model: "sim-model", timeScale: 5 });
    simulators.push(simulator);
    const input = join(work, "live.jsonl");
    writeFileSync(input, questionLines(3000));
    const out = join(work, "live");
    const { child, done } = startCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env: { SIM_URL: simulator.url } });
    let live = "";
    for (let attempt = 0; attempt < 200 && !/rows done [1-9]/.test(live); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const inspected = await runCli(["inspect", out]);
      if (inspected.code === 0) live = inspected.stdout;
    }
    expect(live).toContain("running");
    expect(live).toMatch(/rows done [1-9]/);
    child.kill("SIGINT");
    expect((await done).code).toBe(130);
    const after = await runCli(["inspect", out, "--json"]);
    const report = JSON.parse(after.stdout) as { complete: boolean; state: string; reason: string | null; resume_command: string };
    expect(report.complete).toBe(false);
    expect(report.state).toBe("stopped");
    expect(report.reason).toBe("stopped by Ctrl-C");
    expect(report.resume_command).toContain(`${cliPath} run`);
  }, 60_000);
});
