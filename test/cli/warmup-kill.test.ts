import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isProcessAlive } from "../../src/engines/local-engine-state.js";
import { readRecords, type ServerRecord } from "../../src/engines/server-registry.js";
import { stopProcessGroup } from "../../src/engines/vllm-process.js";
import { questionLines, readShards, runCli } from "../helpers/cli.js";

// The CLI is dist/cli/main.js and the fake vllm serves dist's simulator: `npm run build` first.
const fakeVllm = resolve(import.meta.dirname, "../fixtures/bin/fake-vllm.mjs");
const chainFile = "test/fixtures/chains/local-chain.ts";
let work: string;
let argvFile: string;
let env: Record<string, string>;
let enginesFile: string;
let input: string;

function launched(): { argv: string[]; cuda: string | null; pid: number }[] {
  if (!existsSync(argvFile)) return [];
  return readFileSync(argvFile, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { argv: string[]; cuda: string | null; pid: number });
}

function state(): ServerRecord[] {
  return readRecords(work);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "warmup-"));
  argvFile = join(work, "argv.jsonl");
  env = { CHAINETTE_STATE_DIR: work, CHAINETTE_VLLM_COMMAND: `${process.execPath} ${fakeVllm}`, FAKE_VLLM_ARGV_FILE: argvFile };
  enginesFile = join(work, "engines.yml");
  writeFileSync(enginesFile, "engines:\n  - name: local\n    model: fake-model\n    dtype: bfloat16\n    gpu_memory_utilization: 0.5\n    devices: [1]\n  - name: spare\n    model: other-model\n    lazy: true\n");
  input = join(work, "questions.jsonl");
  writeFileSync(input, questionLines(5));
});
// Whatever a failing test left running is stopped here.
afterEach(async () => {
  for (const { pid } of launched()) if (isProcessAlive(pid)) await stopProcessGroup(pid, 1000);
  rmSync(argvFile, { force: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("chainette-stream warmup / kill", () => {
  it("warmup starts the non-lazy engines, a run uses the warmed server, kill stops it", async () => {
    const warmup = await runCli(["warmup", "-f", enginesFile], { env });
    expect(warmup.code).toBe(0);
    expect(warmup.stdout).toMatch(/^local\tstarted\thttp:\/\/127\.0\.0\.1:\d+\/v1\t\(pid \d+, log .*servers\/[0-9a-f]{16}\.log\)\n$/);
    const [record] = launched();
    expect(record?.argv).toEqual(expect.arrayContaining(["serve", "fake-model", "--dtype", "bfloat16", "--gpu-memory-utilization", "0.5"]));
    expect(record?.cuda).toBe("1");
    expect(state()).toMatchObject([{ engines: ["local"], pid: record?.pid, model: "fake-model", keep: true, users: [] }]);
    expect(isProcessAlive(record?.pid ?? 0)).toBe(true);

    const again = await runCli(["warmup", "-f", enginesFile, "-e", "local"], { env });
    expect(again.stdout).toContain("local\talready running");

    const out = join(work, "out-warm");
    const run = await runCli(["run", chainFile, "-i", input, "-o", out, "--engines", enginesFile, "--quiet"], { env });
    expect(run.code).toBe(0);
    expect(readShards(out, "qa")).toHaveLength(5);
    expect(launched()).toHaveLength(1); // no second server
    expect(isProcessAlive(record?.pid ?? 0)).toBe(true);

    const kill = await runCli(["kill", "-e", "local"], { env });
    expect(kill.code).toBe(0);
    expect(kill.stdout).toMatch(/^local\tstopped\t\(pid \d+, http/);
    expect(isProcessAlive(record?.pid ?? 0)).toBe(false);
    expect(state()).toEqual([]);
  });

  it("a run with no warmed engine starts a server and leaves it idle for idle_timeout (180 s by default)", async () => {
    const out = join(work, "out-owned");
    const run = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env });
    expect(run.code).toBe(0);
    expect(readShards(out, "qa")).toHaveLength(5);
    const [record] = launched();
    expect(record?.argv.slice(0, 2)).toEqual(["serve", "fake-model"]);
    expect(isProcessAlive(record?.pid ?? 0)).toBe(true);
    expect(state()).toMatchObject([{ pid: record?.pid, keep: false, users: [], idle_timeout_s: 180 }]);
    expect(Date.parse(state()[0]?.idle_since ?? "")).toBeGreaterThan(Date.now() - 60_000);
    const kill = await runCli(["kill", "--all"], { env });
    expect(kill.stdout).toMatch(/^local\tstopped\t/);
    expect(isProcessAlive(record?.pid ?? 0)).toBe(false);
    expect(state()).toEqual([]);
  });

  it("a vllm that exits at once: exit 1 with its stderr tail", async () => {
    const failing = { ...env, FAKE_VLLM_FAIL: "1" };
    const warmup = await runCli(["warmup", "-f", enginesFile], { env: failing });
    expect(warmup.code).toBe(1);
    expect(warmup.stderr).toContain("exited with code 1 before it was healthy");
    expect(warmup.stderr).toContain("ValueError: fake vllm cannot load this model");
    const run = await runCli(["run", chainFile, "-i", input, "-o", join(work, "out-failing"), "--quiet"], { env: failing });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("ValueError: fake vllm cannot load this model");
    expect(state()).toEqual([]);
  });

  it("bad usage exits 2", async () => {
    expect((await runCli(["kill"], { env })).code).toBe(2);
    expect((await runCli(["kill", "--all", "-e", "local"], { env })).code).toBe(2);
    expect((await runCli(["warmup"], { env })).code).toBe(2);
    const unknown = await runCli(["warmup", "-f", enginesFile, "-e", "nope"], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("got `nope`");
    const nothing = await runCli(["kill", "--all"], { env });
    expect([nothing.code, nothing.stdout]).toEqual([0, "no engine is running\n"]);
  });
});
