/**
 * Errors a person can act on, and `--json-logs` that is JSON all the way: the real CLI, spawned.
 * Runs that must stay alive use the gate chain (nothing timed); engines are the bundled simulator.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { cliPath, questionLines, readShards, repoRoot, runCli, startCli, type CliResult } from "../helpers/cli.js";
import { gatedRuns } from "../helpers/gated-runs.js";

const rows = 40;
const workspace = gatedRuns("errors-", rows);
const qaChain = "test/fixtures/chains/qa-chain.ts";
let simulator: Simulator;

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model" });
});
afterAll(async () => {
  await simulator.close();
});

/** `sh -c SCRIPT` in `cwd`: a real shell, for pipes and for commands as printed. */
function shell(script: string, options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const child = spawn("sh", ["-c", script], { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

function expectNoStack(text: string): void {
  expect(text).not.toMatch(/^\s+at /m);
  expect(text).not.toContain("EPIPE");
}

function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not JSON on stderr: ${line}`);
      }
    });
}

describe("usage errors", () => {
  it("suggest the nearest option for a misspelt flag, in one line, exit 2, no stack", async () => {
    const run = await runCli(["run", qaChain, "--inptu", "x.jsonl", "-o", "out"]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("did you mean `--input`?");
    expect(run.stderr).toContain("USAGE");
    expectNoStack(run.stderr);
    const inspect = await runCli(["inspect", workspace.work, "--jsno"]);
    expect(inspect.code).toBe(2);
    expect(inspect.stderr.trim().split("\n")).toHaveLength(1);
    expect(inspect.stderr).toContain("did you mean `--json`?");
    expectNoStack(inspect.stderr);
  });

  it("print a stack only with CHAINETTE_DEBUG=1 or --debug", async () => {
    const debug = await runCli(["run", qaChain, "--inptu", "x.jsonl"], { env: { CHAINETTE_DEBUG: "1" } });
    expect(debug.code).toBe(2);
    expect(debug.stderr).toMatch(/^\s+at /m);
    const flag = await runCli(["--debug", "run", qaChain, "--inptu", "x.jsonl"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^\s+at /m);
  });

  it("--help of every subcommand exits 0, and --version prints the package's version", async () => {
    for (const command of ["init", "run", "inspect", "inspect-dag", "sim", "warmup", "kill"]) {
      const result = await runCli([command, "--help"]);
      expect(result.code, `${command} --help: ${result.stderr}`).toBe(0);
      expect(result.stdout).toContain(`chainette-stream ${command}`);
    }
    const { version } = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
    const printed = await runCli(["--version"]);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toBe(`${version}\n`);
  });
});

describe("stdout closed early", () => {
  it("does not crash run or inspect with EPIPE", async () => {
    const out = join(workspace.work, "piped");
    const run = `node ${cliPath} run test/fixtures/chains/gate-chain.ts -i ${workspace.input} -o`;
    const first = await shell(`{ ${run} ${out}; echo "exit $?" >&2; } | head -1`);
    expect(first.stdout).toMatch(/^gate: complete/);
    expect(first.stdout.trim().split("\n")).toHaveLength(1);
    expect(first.stderr).toContain("exit 0");
    expectNoStack(first.stderr);
    // A reader gone before anything is written: every write of the summary meets a closed pipe.
    const closed = await shell(`{ ${run} ${out}-closed --quiet; echo "exit $?" >&2; } | head -n 0`);
    expect(closed.stderr).toContain("exit 0");
    expectNoStack(closed.stderr);
    expect(readShards(`${out}-closed`, "pass")).toHaveLength(rows);
    const inspect = await shell(`{ node ${cliPath} inspect ${out}; echo "exit $?" >&2; } | head -n 0`);
    expect(inspect.stderr).toContain("exit 0");
    expectNoStack(inspect.stderr);
  });
});

describe("Ctrl-C", () => {
  let slow: Simulator;
  let input: string;
  beforeAll(async () => {
    // Requests of a few seconds each: rows are in flight when the signals come.
    slow = await startSimulator({ port: 0, model: "sim-model", timeScale: 0.5 });
    input = join(workspace.work, "slow-questions.jsonl");
    writeFileSync(input, questionLines(rows));
  });
  afterAll(async () => {
    await slow.close();
  });

  it("says in one line that the grace ran out, and prints a resume command that runs as printed from /", async () => {
    const out = join(workspace.work, "grace");
    const { child, done } = startCli(["run", qaChain, "-i", input, "-o", out, "--quiet", "--concurrency", "2", "--grace", "1"], { env: { SIM_URL: slow.url } });
    await until(() => existsSync(join(out, "qa", "000.jsonl")));
    child.kill("SIGINT");
    const stopped = await done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr.trim().split("\n")).toEqual(["the grace period (1s) ran out: abandoning the rows in flight; they are not committed, and running the same command again redoes them"]);
    const command = /resume with: (.*)/.exec(stopped.stdout)?.[1];
    expect(command).toBeDefined();
    const resumed = await shell(command ?? "false", { cwd: "/", env: { SIM_URL: simulator.url } });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain("durable-qa: complete");
    expect(new Set(readShards(out, "qa").map((record) => record.row_id)).size).toBe(rows);
  }, 60_000);

  it("says in one line that a second Ctrl-C abandons the rows in flight, with no stack", async () => {
    const out = join(workspace.work, "twice");
    const { child, done } = startCli(["run", qaChain, "-i", input, "-o", out, "--concurrency", "2"], { env: { SIM_URL: slow.url } });
    await until(() => existsSync(join(out, "qa", "000.jsonl")));
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.kill("SIGINT");
    await until(() => stderr.includes("Ctrl-C again to abandon them"));
    child.kill("SIGINT");
    const stopped = await done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr.split("\n").filter((line) => line.startsWith("Ctrl-C again:"))).toEqual(["Ctrl-C again: abandoning the rows in flight; they are not committed, and running the same command again redoes them"]);
    expect(stopped.stderr).not.toContain("error");
    expectNoStack(stopped.stderr);
    expect(stopped.stdout).toContain("resume with:");
  }, 60_000);
});

describe("--json-logs", () => {
  it("writes only JSON on stderr: failed rows as warn row-failed events, the summary and its resume command as fields", async () => {
    const input = join(workspace.work, "questions.jsonl");
    writeFileSync(input, questionLines(12) + "{not json\n" + JSON.stringify({ text: 5 }) + "\n");
    const result = await runCli(["run", qaChain, "-i", input, "-o", join(workspace.work, "json-out"), "--json-logs"], { env: { SIM_URL: simulator.url } });
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stderr);
    const failed = lines.filter((line) => line.event === "row-failed");
    expect(failed.map((line) => [line.level, line.row_id, line.node, line.type, line.code])).toEqual([
      [40, "12", "input", "INPUT_ROW", "INPUT_ROW"],
      [40, "13", "qa", "INPUT_ROW", "INPUT_ROW"],
    ]);
    expect(String(failed[1]?.message)).toContain("field `text`");
    expect(lines.find((line) => line.event === "run-end")).toMatchObject({ level: 30, status: "complete" });
    expect(lines.find((line) => line.event === "run-summary")).toMatchObject({ level: 40, status: "complete", rows: { in: 14, failed: 2 } });
    // The engine read the simulator's /metrics and says its limit (adaptive concurrency).
    expect(lines.find((line) => line.event === "concurrency-limit")).toMatchObject({ level: 30, policy: "queue", limit: expect.any(Number) as unknown });
  });

  it("logs a fatal error, a failed run-end and a usage error as JSON at level error with their code", async () => {
    const input = join(workspace.work, "few.jsonl");
    writeFileSync(input, questionLines(3));
    const down = await runCli(["run", qaChain, "-i", input, "-o", join(workspace.work, "json-down"), "--json-logs", "--engine-down-timeout", "1"], { env: { SIM_URL: "http://127.0.0.1:9" } });
    expect(down.code).toBe(1);
    const lines = jsonLines(down.stderr);
    expect(lines.find((line) => line.event === "run-end")).toMatchObject({ level: 50, status: "failed" });
    const summary = lines.find((line) => line.event === "run-summary");
    expect(summary).toMatchObject({ level: 50, status: "failed", code: "ENGINE_DOWN" });
    expect(String(summary?.resume_command)).toContain(" run ");

    const usage = await runCli(["run", qaChain, "--json-logs", "--inptu", input]);
    expect(usage.code).toBe(2);
    expect(jsonLines(usage.stderr)).toEqual([expect.objectContaining({ level: 50, code: "USAGE", msg: expect.stringContaining("did you mean `--input`?") as unknown })]);

    const invalid = await runCli(["run", "test/fixtures/chains/invalid-chain.ts", "-i", input, "-o", join(workspace.work, "json-invalid"), "--json-logs"]);
    expect(invalid.code).toBe(2);
    expect(jsonLines(invalid.stderr)).toEqual([expect.objectContaining({ level: 50, code: "CHAIN_INVALID" })]);
  });
});
