/**
 * The lifecycle of managed `vllm_local` servers, through the real CLI and a stand-in `vllm` on
 * PATH (test/fixtures/bin/fake-vllm.mjs: parses serve MODEL --port P, serves /health and the
 * OpenAI chat API from the bundled simulator). Each test checks that no process is left behind.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isProcessAlive } from "../../src/engines/local-engine-state.js";
import { stopManagedServers } from "../../src/engines/managed-servers.js";
import { acquireServer } from "../../src/engines/server-broker.js";
import { readRecords } from "../../src/engines/server-registry.js";
import { stopProcessGroup } from "../../src/engines/vllm-process.js";
import { questionLines, readShards, runCli, startCli } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait-for.js";

const fakeVllm = resolve(import.meta.dirname, "../fixtures/bin/fake-vllm.mjs");
const branchesChain = "test/fixtures/chains/local-branches-chain.ts";
const gatedChain = "test/fixtures/chains/local-gated-chain.ts";
let work: string;
let env: Record<string, string>;
let argvFile: string;
let input: string;

interface PsEntry {
  pid: number;
  model: string;
  port: number;
  devices: number[] | null;
  state: string;
  engines: string[];
  users: { pid: number; engine: string }[];
  reaper_pid: number | null;
  uptime_s: number;
}

function launched(): { argv: string[]; cuda: string | null; pid: number }[] {
  if (!existsSync(argvFile)) return [];
  return readFileSync(argvFile, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { argv: string[]; cuda: string | null; pid: number });
}

async function ps(): Promise<PsEntry[]> {
  const result = await runCli(["ps", "--json"], { env });
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as PsEntry[];
}

function enginesYaml(name: string, body: string): string {
  const path = join(work, `${name}.yml`);
  writeFileSync(path, `engines:\n${body}`);
  return path;
}

function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "vllm-lifecycle-"));
  const bin = join(work, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "vllm"), `#!/bin/sh\nexec "${process.execPath}" "${fakeVllm}" "$@"\n`);
  chmodSync(join(bin, "vllm"), 0o755);
  argvFile = join(work, "argv.jsonl");
  env = { PATH: `${bin}:${process.env.PATH ?? ""}`, CHAINETTE_STATE_DIR: join(work, "state"), CHAINETTE_VLLM_COMMAND: "", FAKE_VLLM_ARGV_FILE: argvFile };
  input = join(work, "questions.jsonl");
  writeFileSync(input, questionLines(6));
});

// Whatever a failing test left running is stopped here, reapers included.
afterEach(async () => {
  await stopManagedServers(() => true, 1000, env);
  for (const { pid } of launched()) if (isProcessAlive(pid)) await stopProcessGroup(pid, 1000);
  rmSync(argvFile, { force: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("managed vllm_local servers", () => {
  it("two branches share one lazily started server; ps lists it idle after the run; kill --all leaves no process", async () => {
    const engines = enginesYaml("branches", "  - name: a\n    model: fake-model\n    lazy: true\n    idle_timeout: 600\n  - name: b\n    model: fake-model\n    lazy: true\n    idle_timeout: 600\n");
    const out = join(work, "out-branches");
    const run = await runCli(["run", branchesChain, "-i", input, "-o", out, "--engines", engines, "--quiet"], { env });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(readShards(out, "second")).toHaveLength(6);
    expect(launched()).toHaveLength(1); // one `vllm serve` for both engines
    const [server] = await ps();
    expect(server).toMatchObject({ pid: launched()[0]?.pid, model: "fake-model", devices: null, engines: ["a", "b"], users: [] });
    expect(server?.state).toMatch(/^idle, stops in (59\d|600) s$/);
    expect(isProcessAlive(server?.reaper_pid ?? 0)).toBe(true);
    // A reaper killed by hand is replaced by the next command that looks, so the server stays watched.
    process.kill(server?.reaper_pid ?? 0, "SIGKILL");
    await waitFor(() => !isProcessAlive(server?.reaper_pid ?? 0), "the reaper to die");
    const [watched] = await ps();
    expect(watched?.reaper_pid).not.toBe(server?.reaper_pid);
    expect(isProcessAlive(watched?.reaper_pid ?? 0)).toBe(true);
    const table = await runCli(["ps"], { env });
    expect(table.stdout).toMatch(new RegExp(`^PID +MODEL +PORT +DEVICES +UPTIME +STATE +ENGINES +USED BY\\n${server?.pid} +fake-model +${server?.port} +- +\\d+s +idle, stops in \\d+ s +a,b +-\\n$`));

    const kill = await runCli(["kill", "--all", "--grace", "5"], { env });
    expect(kill.stdout).toBe(`a,b\tstopped\t(pid ${server?.pid}, http://127.0.0.1:${server?.port}/v1)\n`);
    expect(isProcessAlive(server?.pid ?? 0)).toBe(false);
    await waitFor(() => !isProcessAlive(watched?.reaper_pid ?? 0), "the reaper to exit");
    expect((await runCli(["ps"], { env })).stdout).toBe("no managed server is running\n");
    expect((await runCli(["kill", "--all"], { env })).stdout).toBe("no engine is running\n");
  });

  it("two concurrent runs share one server by reference count; it stops once idle_timeout passes with no user", async () => {
    const engines = enginesYaml("idle", "  - name: local\n    model: fake-model\n    lazy: true\n    idle_timeout: 2\n");
    const stateDir = env.CHAINETTE_STATE_DIR ?? "";
    const gateFile = join(work, "gate-concurrent");
    const held = startCli(["run", gatedChain, "-i", input, "-o", join(work, "out-held"), "--engines", engines, "--quiet"], { env: { ...env, GATE_FILE: gateFile } });
    await waitFor(() => readRecords(stateDir).some((record) => record.state === "ready" && record.users.length === 1), "the first run to use a ready server");
    const second = await runCli(["run", gatedChain, "-i", input, "-o", join(work, "out-second"), "--engines", engines, "--quiet"], { env });
    expect([second.code, second.stderr]).toEqual([0, ""]);
    expect(readShards(join(work, "out-second"), "gate")).toHaveLength(6);
    // The second run joined and left; the first still holds the server, so no idle clock runs.
    expect(readRecords(stateDir)).toMatchObject([{ users: [{ pid: held.child.pid, engine: "local", run: join(work, "out-held") }], idle_since: null, state: "ready" }]);
    const table = await runCli(["ps"], { env });
    expect(table.stdout).toContain(`in use  local    pid ${held.child.pid} (local) ${join(work, "out-held")}\n`);
    writeFileSync(gateFile, "");
    expect((await held.done).code).toBe(0);
    expect(readShards(join(work, "out-held"), "gate")).toHaveLength(6);
    expect(launched()).toHaveLength(1);
    const [record] = readRecords(stateDir);
    expect(record).toMatchObject({ users: [], idle_timeout_s: 2 });
    const reaper = record?.reaper?.pid ?? 0;
    // The reaper stops the server about 2 s after the last run left, then exits itself.
    await waitFor(() => !isProcessAlive(record?.pid ?? 0) && !isProcessAlive(reaper), "the idle server and its reaper to stop");
    expect(readRecords(stateDir)).toEqual([]);
    expect(readFileSync(record?.log ?? "", "utf8")).toContain("stopping (no user for idle_timeout 2 s)");
  });

  it("a run killed with kill -9 leaves its server to the next run: ps shows it unused, the resume reuses it", async () => {
    const engines = enginesYaml("killed", "  - name: local\n    model: fake-model\n    lazy: true\n");
    const out = join(work, "out-killed");
    const args = ["run", gatedChain, "-i", input, "-o", out, "--engines", engines, "--quiet"];
    const first = startCli(args, { env: { ...env, GATE_FILE: join(work, "never") } });
    const used = () => readRecords(env.CHAINETTE_STATE_DIR ?? "").some((record) => record.state === "ready" && record.users.some((user) => user.pid === first.child.pid));
    await waitFor(used, "the run to use a ready server");
    first.child.kill("SIGKILL");
    expect((await first.done).signal).toBe("SIGKILL");

    const [orphan] = await ps();
    expect(orphan).toMatchObject({ pid: launched()[0]?.pid, engines: ["local"], users: [] }); // the dead run is no user
    expect(orphan?.state).toMatch(/^idle, stops in 1[78]\d s$/);

    const resume = await runCli(args, { env });
    expect(resume.code).toBe(0);
    expect(readShards(out, "gate")).toHaveLength(6);
    expect(launched()).toHaveLength(1); // the same server
    expect((await ps())[0]?.pid).toBe(orphan?.pid);
    const kill = await runCli(["kill", "-e", "local", "--grace", "5"], { env });
    expect(kill.stdout).toMatch(/^local\tstopped\t/);
    expect(isProcessAlive(orphan?.pid ?? 0)).toBe(false);
  });

  it("engines asking for the same devices are refused before anything starts; port is honoured", async () => {
    const port = await freePort();
    const clash = enginesYaml("clash", "  - name: a\n    model: fake-model\n    devices: [0, 1]\n    lazy: true\n  - name: b\n    model: other-model\n    devices: [1]\n    lazy: true\n");
    const refused = await runCli(["run", branchesChain, "-i", input, "-o", join(work, "out-clash"), "--engines", clash, "--quiet"], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("Engines `a` and `b` both ask for GPU device 1 for different servers");
    expect(launched()).toEqual([]);

    // A kept server on device 0 at a chosen port; then a run wanting device 0 for another model.
    const kept = enginesYaml("kept", `  - name: a\n    model: fake-model\n    devices: [0]\n    port: ${port}\n  - name: b\n    model: other-model\n    devices: [0]\n    lazy: true\n`);
    const warmup = await runCli(["warmup", "-f", kept, "-e", "a"], { env });
    expect(warmup.code).toBe(0);
    expect(warmup.stdout).toMatch(new RegExp(`^a\\tstarted\\thttp://127\\.0\\.0\\.1:${port}/v1\\t`));
    expect(launched()[0]?.cuda).toBe("0");
    const other = enginesYaml("other", "  - name: a\n    model: other-model\n    devices: [0]\n    lazy: true\n  - name: b\n    model: other-model\n    devices: [0]\n    lazy: true\n");
    const busy = await runCli(["run", branchesChain, "-i", input, "-o", join(work, "out-busy"), "--engines", other, "--quiet"], { env });
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/Engine `a` asks for GPU device 0, which a running `vllm serve` holds \(pid \d+, model fake-model, engine a\)/);
    expect(launched()).toHaveLength(1);
    const [server] = await ps();
    expect(server).toMatchObject({ port, devices: [0], state: "kept", engines: ["a"] });
  });

  it("kill --all also finds a server whose registry record was lost, by the marker in its environment", async () => {
    const lease = await acquireServer({ name: "lost", backend: "vllm_local", model: "fake-model" }, { env, keep: true, pollIntervalMs: 100 });
    rmSync(join(env.CHAINETTE_STATE_DIR ?? "", "servers", `${lease.id}.json`));
    const listing = await runCli(["ps"], { env });
    expect(listing.stdout).toBe("no managed server is running\n");
    expect(listing.stderr).toContain(`1 server process(es) not in the registry (pid ${lease.pid})`);
    const kill = await runCli(["kill", "--all", "--grace", "5"], { env });
    expect(kill.stdout).toBe(`(unregistered)\tstopped\t(pid ${lease.pid}, server ${lease.id})\n`);
    expect(isProcessAlive(lease.pid)).toBe(false);
  });
});
