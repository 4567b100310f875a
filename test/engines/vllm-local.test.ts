import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createEngine } from "../../src/engines/create-engine.js";
import { isProcessAlive } from "../../src/engines/local-engine-state.js";
import { acquireServer } from "../../src/engines/server-broker.js";
import { readRecords } from "../../src/engines/server-registry.js";
import { startVllmServer, stopProcessGroup } from "../../src/engines/vllm-process.js";
import { vllmProgram, vllmServeCommand } from "../../src/engines/vllm-serve-command.js";
import { ChainetteError } from "../../src/errors.js";

// The fake vllm serves the built simulator: `npm run build` (the pretest script) comes first.
const fakeVllm = resolve(import.meta.dirname, "../fixtures/bin/fake-vllm.mjs");
const work = mkdtempSync(join(tmpdir(), "vllm-local-"));
const argvFile = join(work, "argv.jsonl");
const env = { ...process.env, CHAINETTE_STATE_DIR: work, CHAINETTE_VLLM_COMMAND: `${process.execPath} ${fakeVllm}`, FAKE_VLLM_ARGV_FILE: argvFile };

function launched(): { argv: string[]; cuda: string | null; pid: number }[] {
  if (!existsSync(argvFile)) return [];
  return readFileSync(argvFile, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { argv: string[]; cuda: string | null; pid: number });
}

afterEach(async () => {
  for (const { pid } of launched()) if (isProcessAlive(pid)) await stopProcessGroup(pid, 1000);
  rmSync(argvFile, { force: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("vllm serve command", () => {
  it("maps dtype, gpu_memory_utilization, reasoning_parser and devices", () => {
    const command = vllmServeCommand(
      { name: "llama3", backend: "vllm_local", model: "org/model", dtype: "bfloat16", gpuMemoryUtilization: 0.6, enableReasoning: true, reasoningParser: "deepseek_r1", devices: [0, 3] },
      8123,
      {},
    );
    expect(command).toEqual({
      command: "vllm",
      args: ["serve", "org/model", "--host", "127.0.0.1", "--port", "8123", "--dtype", "bfloat16", "--gpu-memory-utilization", "0.6", "--reasoning-parser", "deepseek_r1", "--tensor-parallel-size", "2"],
      env: { CUDA_VISIBLE_DEVICES: "0,3" },
    });
    expect(vllmProgram({ CHAINETTE_VLLM_COMMAND: " node  /opt/fake.mjs " })).toEqual(["node", "/opt/fake.mjs"]);
  });

  it("refuses enable_reasoning without a parser, and an endpoint", () => {
    expect(() => vllmServeCommand({ name: "r", backend: "vllm_local", model: "m", enableReasoning: true }, 1, {})).toThrow(/reasoning_parser/);
    expect(() => vllmServeCommand({ name: "r", backend: "vllm_local", model: "m", endpoint: "http://h/v1" }, 1, {})).toThrow(/Expected no `endpoint`/);
  });
});

describe("startVllmServer", () => {
  it("waits through a 503 /health, then the server answers; CUDA_VISIBLE_DEVICES and flags reach it", async () => {
    const started = Date.now();
    const server = await startVllmServer({ name: "fast", backend: "vllm_local", model: "fake-model", dtype: "half", gpuMemoryUtilization: 0.5, devices: [2] }, { env, pollIntervalMs: 100 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // slowStartSeconds: 1
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = (await (await fetch(`${server.url}/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((model) => model.id)).toEqual(["fake-model"]);
    const [record] = launched();
    expect(record?.cuda).toBe("2");
    expect(record?.argv).toEqual(["serve", "fake-model", "--host", "127.0.0.1", "--port", server.url.split(":")[2]?.replace("/v1", ""), "--dtype", "half", "--gpu-memory-utilization", "0.5"]);
    expect(readFileSync(server.log, "utf8")).toContain("fake vllm serving fake-model");
    expect(await stopProcessGroup(server.pid, 5000)).toBe("stopped");
    expect(isProcessAlive(server.pid)).toBe(false);
  });

  it("fails early with the tail of the log when the process exits", async () => {
    const error = await startVllmServer({ name: "broken", backend: "vllm_local", model: "fake-model" }, { env: { ...env, FAKE_VLLM_FAIL: "1" }, pollIntervalMs: 100 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ChainetteError);
    expect((error as ChainetteError).code).toBe("ENGINE_DOWN");
    expect((error as ChainetteError).message).toContain("exited with code 1 before it was healthy");
    expect((error as ChainetteError).message).toContain("ValueError: fake vllm cannot load this model");
  });

  it("fails when the program cannot be found", async () => {
    const error = await startVllmServer({ name: "missing", backend: "vllm_local", model: "m" }, { env: { ...env, CHAINETTE_VLLM_COMMAND: join(work, "no-such-vllm") } }).catch((caught: unknown) => caught);
    expect((error as ChainetteError).message).toMatch(/could not be started: .*ENOENT/);
  });
});

describe("vllm_local engine", () => {
  it("leases its server before the first request; with idle_timeout 0 its close stops it", async () => {
    const engine = createEngine({ name: "owned", backend: "vllm_local", model: "fake-model", lazy: true, idleTimeout: 0 }, { env });
    expect(launched()).toEqual([]); // lazy: nothing started yet
    const result = await engine.generate({ messages: [{ role: "user", content: "hi" }], sampling: { maxTokens: 8 } });
    expect(result.text.length).toBeGreaterThan(0);
    const [record] = launched();
    expect(readRecords(work).map((entry) => [entry.engines, entry.users.map((user) => [user.pid, user.engine]), entry.state])).toEqual([[["owned"], [[process.pid, "owned"]], "ready"]]);
    await engine.close();
    expect(isProcessAlive(record?.pid ?? 0)).toBe(false);
    expect(readRecords(work)).toEqual([]);
  });

  it("uses a kept (warmed) server of the same model and options without starting another", async () => {
    const warm = await acquireServer({ name: "warm", backend: "vllm_local", model: "fake-model" }, { env, keep: true, pollIntervalMs: 100 });
    expect(warm.started).toBe(true);
    const engine = createEngine({ name: "other-name", backend: "vllm_local", model: "fake-model" }, { env });
    await engine.generate({ messages: [{ role: "user", content: "hi" }], sampling: { maxTokens: 8 } });
    await engine.close();
    expect(launched()).toHaveLength(1);
    expect(isProcessAlive(warm.pid)).toBe(true); // kept for `kill`
    expect(readRecords(work).map((entry) => [entry.engines, entry.keep, entry.users])).toEqual([[["warm", "other-name"], true, []]]);
  });

  it("counts users: concurrent leases share one spawn; the server stops with the last (idle_timeout 0)", async () => {
    const config = { name: "shared", backend: "vllm_local" as const, model: "fake-model", idleTimeout: 0 };
    const users = [1, 2, 3].map((index) => ({ pid: process.pid, start_time: null, engine: `shared-${index}` }));
    const leases = await Promise.all(users.map((user) => acquireServer(config, { env, user, pollIntervalMs: 100 })));
    expect(launched()).toHaveLength(1);
    expect(leases.filter((lease) => lease.started)).toHaveLength(1);
    expect(new Set(leases.map((lease) => lease.pid)).size).toBe(1);
    expect(readRecords(work)[0]?.users.map((user) => user.engine).sort()).toEqual(["shared-1", "shared-2", "shared-3"]);
    await leases[0]?.release(1000);
    await leases[2]?.release(1000);
    expect(isProcessAlive(leases[0]?.pid ?? 0)).toBe(true); // one user left
    expect(readRecords(work)[0]).toMatchObject({ users: [{ engine: "shared-2" }], idle_since: null, state: "ready" });
    await leases[1]?.release(1000);
    expect(isProcessAlive(leases[0]?.pid ?? 0)).toBe(false);
    expect(readRecords(work)).toEqual([]);
  });

  it("drops registry records whose process is gone, or whose pid now names another process", async () => {
    mkdirSync(join(work, "servers"), { recursive: true });
    writeFileSync(join(work, "servers", "ghost.json"), JSON.stringify({ id: "ghost", fingerprint: "x", pid: 2 ** 22 + 7, start_time: null, users: [], started_at: "" }));
    // A live pid (this very process) with another start time: a reused pid, not our server.
    writeFileSync(join(work, "servers", "reused.json"), JSON.stringify({ id: "reused", fingerprint: "y", pid: process.pid, start_time: "1", users: [], started_at: "" }));
    const engine = createEngine({ name: "fresh", backend: "vllm_local", model: "fake-model", idleTimeout: 0 }, { env });
    await engine.generate({ messages: [{ role: "user", content: "hi" }], sampling: { maxTokens: 8 } });
    expect(existsSync(join(work, "servers", "ghost.json"))).toBe(false);
    expect(existsSync(join(work, "servers", "reused.json"))).toBe(false);
    await engine.close();
  });
});
