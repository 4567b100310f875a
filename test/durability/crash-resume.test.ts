/**
 * Modelled on datatrove's test_checkpoint_recovery_and_completeness: the real CLI is SIGKILLed at
 * random moments, resumed until it completes, and its outputs must equal an uninterrupted run's,
 * every row exactly once, no torn line.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { cliPath, questionLines, runCli, startCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";

const chainFile = "test/fixtures/chains/qa-chain.ts";
const nodes = ["qa", "count", "keep", "split"];
const rows = 2500;
let simulator: Simulator;
let work: string;
let input: string;
let env: Record<string, string>;

beforeAll(async () => {
  // Llama-3.1-8B-on-H100 timings, 10x faster: a request takes ~60-100 ms, the run a few seconds.
  simulator = await startSimulator({ port: 0, model: "sim-model", timeScale: 10 });
  work = mkdtempSync(join(tmpdir(), "crash-"));
  input = join(work, "questions.jsonl");
  writeFileSync(input, questionLines(rows));
  env = { SIM_URL: simulator.url };
});
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

const args = (out: string): string[] => ["run", chainFile, "-i", input, "-o", out, "--max-lines-per-file", "300", "--quiet"];

describe("crash and resume", () => {
  it("loses and repeats no row across repeated SIGKILLs", async () => {
    const reference = join(work, "reference");
    const started = performance.now();
    const clean = await runCli(args(reference), { env });
    const cleanMs = performance.now() - started;
    expect(clean.code, clean.stderr).toBe(0);
    const expected = checkExactlyOnce(reference, nodes);

    const out = join(work, "killed");
    let kills = 0;
    let completed = false;
    // Random kill moments, seeded so a failure can be replayed.
    let seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
    const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const seedUsed = seed;
    for (let attempt = 0; attempt < 12 && !completed; attempt++) {
      const { child, done } = startCli(args(out), { env });
      if (kills < 4) {
        // Somewhere in the first 15-65% of an uninterrupted run's time (start-up included), so the
        // first attempt, a whole run, is always killed however fast this machine is today.
        const delay = Math.floor(cleanMs * (0.15 + random() * 0.5));
        const timer = setTimeout(() => child.kill("SIGKILL"), delay);
        const result = await done;
        clearTimeout(timer);
        if (result.signal === "SIGKILL") {
          kills++;
          continue;
        }
        expect(result.code, result.stderr).toBe(0);
        completed = true;
      } else {
        const result = await done;
        expect(result.code, result.stderr).toBe(0);
        completed = true;
      }
    }
    expect(completed, `did not complete (seed ${seedUsed})`).toBe(true);
    expect(kills, `seed ${seedUsed}`).toBeGreaterThanOrEqual(1);

    const actual = checkExactlyOnce(out, nodes);
    for (const folder of [...nodes, "flattened", "errors"]) {
      expect(actual.byFolder.get(folder), `${folder}/ differs from the uninterrupted run (seed ${seedUsed})`).toEqual(expected.byFolder.get(folder));
    }
    expect(actual.rootIds.size).toBeGreaterThan(0);
  }, 120_000);

  it("stops cleanly on SIGINT with exit 130, and the resume completes", async () => {
    const out = join(work, "interrupted");
    const { child, done } = startCli(args(out).filter((arg) => arg !== "--quiet"), { env });
    // Interrupt once rows are being written (the signal handlers are in place by then).
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(out, "qa", "000.jsonl")) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill("SIGINT");
    const stopped = await done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stdout).toContain(`resume with: node ${cliPath} run`);
    expect(stopped.stdout).toContain("stopped");
    const partial = checkExactlyOnce(out, nodes);
    expect(partial.rootIds.size).toBeGreaterThan(0);
    expect(partial.rootIds.size).toBeLessThan(rows);

    const resumed = await runCli(args(out), { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    const all = checkExactlyOnce(out, nodes);
    const filtered = Array.from({ length: rows }, (_, i) => i).filter((i) => `Question number ${i}:`.includes("7:")).length;
    expect(all.rootIds.size + filtered).toBe(rows);
  }, 60_000);
});

describe("a second Ctrl-C", () => {
  it("abandons the rows in flight, still commits what finished, exits 130, and the resume completes", async () => {
    const slow = await startSimulator({ port: 0, model: "sim-model", timeScale: 0.5 });
    try {
      const out = join(work, "abandoned");
      const slowEnv = { SIM_URL: slow.url };
      const { child, done } = startCli(args(out).filter((arg) => arg !== "--quiet"), { env: slowEnv });
      const deadline = Date.now() + 20_000;
      while (!existsSync(join(out, "qa", "000.jsonl")) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      child.kill("SIGINT");
      await new Promise((resolve) => setTimeout(resolve, 300));
      child.kill("SIGINT");
      const stopped = await done;
      expect(stopped.code, stopped.stderr).toBe(130);
      expect(stopped.stdout).toContain("stopped");
      const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { status: string };
      expect(summary.status).toBe("stopped");
      checkExactlyOnce(out, nodes);
      const resumed = await runCli(args(out), { env });
      expect(resumed.code, resumed.stderr).toBe(0);
      const all = checkExactlyOnce(out, nodes);
      const filtered = Array.from({ length: rows }, (_, i) => i).filter((i) => `Question number ${i}:`.includes("7:")).length;
      expect(all.rootIds.size + filtered).toBe(rows);
    } finally {
      await slow.close();
    }
  }, 60_000);
});
