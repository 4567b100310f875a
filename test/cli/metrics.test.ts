/**
 * `run --metrics-port`: a run held at a known row on the simulator serves Prometheus text that our
 * own strict reader and (where installed) `promtool check metrics` accept, whose numbers are the
 * run's; the server answers only /metrics and is gone when the run ends. Every endpoint of the
 * engine has its health and concurrency series from the run's start, before any request.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initialConcurrency } from "../../src/engines/concurrency-policy.js";
import { displayUrl } from "../../src/engines/display-url.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { readShards, startCli } from "../helpers/cli.js";
import { parsePrometheusText, type Sample } from "../helpers/prometheus-text.js";
import { waitFor } from "../helpers/wait-for.js";

let work: string;
let simulator: Simulator;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "metrics-"));
  simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model", seed: 3, faults: { http500: 0.1 } });
});

afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

/** A run started with `--metrics-port 0` (and `args`), its metrics URL once it prints it, and a scrape that parses and checks. */
async function startWithMetrics(args: string[], env: Record<string, string>): Promise<{ run: ReturnType<typeof startCli>; url: string; scrape: () => Promise<{ text: string; samples: Sample[] }> }> {
  const run = startCli([...args, "--quiet", "--metrics-port", "0", "--circuit-breaker", "off"], { env });
  let stderr = "";
  run.child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await waitFor(() => /metrics at (\S+)/.test(stderr), "the metrics URL");
  } catch (error) {
    run.child.kill("SIGKILL");
    throw error;
  }
  const url = /metrics at (\S+)/.exec(stderr)?.[1] as string;
  return {
    run,
    url,
    scrape: async () => {
      const text = await (await fetch(url)).text();
      return { text, samples: parsePrometheusText(text).samples };
    },
  };
}

/** `promtool check metrics` on a scrape, where Debian's `prometheus` package is installed. */
function expectPromtoolAccepts(text: string): void {
  if (!existsSync("/usr/bin/promtool")) return;
  const check = spawnSync("/usr/bin/promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
}

function total(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value)).reduce((sum, s) => sum + s.value, 0);
}

describe("run --metrics-port", () => {
  it("serves valid chainette_ metrics whose numbers are the run's, while it runs", async () => {
    const input = join(work, "in.jsonl");
    writeFileSync(input, Array.from({ length: 50 }, (_, n) => `${JSON.stringify({ n, text: `row ${n}` })}\n`).join(""));
    const gate = join(work, "gate");
    const { run, url, scrape } = await startWithMetrics(["run", "test/fixtures/chains/viewer-chain.ts", "-i", input, "-o", join(work, "out"), "--commit-interval", "20"], {
      SIM_URL: simulator.url, SIM_MAX_RETRIES: "1", GATE_FILE: gate, GATE_FROM: "30",
    });
    try {
      // Until the 30 rows before the gate are committed (each scrape is a complete, valid exposition).
      let { text, samples } = await scrape();
      while (total(samples, "chainette_committed_rows_total") < 30) {
        await sleep(20);
        ({ text, samples } = await scrape());
      }
      const { types } = parsePrometheusText(text);
      for (const name of types.keys()) expect(name).toMatch(/^chainette_/);
      expect(types.get("chainette_request_duration_seconds")).toBe("histogram");
      const flattened = readShards(join(work, "out"), "flattened").length;
      const failed = readShards(join(work, "out"), "errors").length;
      expect(flattened + failed).toBe(30);
      expect(total(samples, "chainette_rows_total", { node: "gate", outcome: "ok" })).toBe(30);
      expect(total(samples, "chainette_rows_total", { node: "tag", outcome: "ok" })).toBe(flattened);
      expect(total(samples, "chainette_rows_total", { node: "tag", outcome: "failed" })).toBe(failed);
      expect(total(samples, "chainette_requests_total", { node: "tag" })).toBe(30);
      expect(total(samples, "chainette_request_duration_seconds_count", { node: "tag" })).toBe(30);
      expect(total(samples, "chainette_finish_reasons_total", { node: "tag" })).toBe(flattened);
      expect(total(samples, "chainette_tokens_total", { node: "tag", kind: "output" })).toBeGreaterThan(0);
      expect(total(samples, "chainette_request_retries_total")).toBeGreaterThan(0);
      expect(total(samples, "chainette_requests_in_flight", { node: "tag" })).toBe(0);
      expect(total(samples, "chainette_commits_total")).toBeGreaterThan(0);
      expect(total(samples, "chainette_commit_fsync_seconds_count")).toBe(total(samples, "chainette_commits_total"));
      expect(total(samples, "chainette_running")).toBe(1);
      expectPromtoolAccepts(text);
      expect((await fetch(url.replace(/\/metrics$/, "/"))).status).toBe(404);
      writeFileSync(gate, "1000");
      expect((await run.done).code).toBe(0);
      await expect(fetch(url)).rejects.toThrow();
    } finally {
      run.child.kill("SIGKILL");
    }
  }, 60_000);

  it("exports every endpoint from the start: up, at its starting concurrency limit, before any request", async () => {
    const input = join(work, "start.jsonl");
    writeFileSync(input, Array.from({ length: 20 }, (_, n) => `${JSON.stringify({ n, text: `row ${n}` })}\n`).join(""));
    const gate = join(work, "start.gate");
    // Two endpoints of one engine (the same simulator by two names, one with credentials that must not show).
    const endpoints = [`${simulator.url}/v1`, `${simulator.url.replace("127.0.0.1", "user:s3cr3t@localhost")}/v1`];
    const requestsBefore = simulator.stats().requests.chatCompletions ?? 0;
    // GATE_FROM 0: every row waits at the gate until the test opens it, so no request is sent meanwhile.
    const { run, scrape } = await startWithMetrics(["run", "test/fixtures/chains/viewer-chain.ts", "-i", input, "-o", join(work, "start"), ...endpoints.flatMap((url) => ["--endpoint", `sim=${url}`])], {
      SIM_URL: simulator.url, GATE_FILE: gate, GATE_FROM: "0",
    });
    try {
      // The first scrape that shows the run started.
      let { text, samples } = await scrape();
      while (total(samples, "chainette_running") !== 1) {
        await sleep(20);
        ({ text, samples } = await scrape());
      }
      const series = (name: string): Sample[] => samples.filter((sample) => sample.name === name);
      expect(series("chainette_engine_up")).toEqual([{ name: "chainette_engine_up", labels: { engine: "sim" }, value: 1 }]);
      const expected = (value: number): Sample[] => endpoints.map((endpoint) => ({ name: "", labels: { engine: "sim", endpoint: displayUrl(endpoint) }, value }));
      expect(series("chainette_endpoint_up").map((sample) => ({ ...sample, name: "" }))).toEqual(expected(1));
      expect(series("chainette_endpoint_concurrency_limit").map((sample) => ({ ...sample, name: "" }))).toEqual(expected(initialConcurrency));
      expect(text).not.toContain("s3cr3t");
      expect(total(samples, "chainette_requests_total")).toBe(0);
      expect(simulator.stats().requests.chatCompletions ?? 0).toBe(requestsBefore);
      expectPromtoolAccepts(text);
      writeFileSync(gate, "1000");
      expect((await run.done).code).toBe(0);
    } finally {
      run.child.kill("SIGKILL");
    }
  }, 60_000);

  it("our reader refuses what promtool refuses", () => {
    const good = "# HELP chainette_x x.\n# TYPE chainette_x histogram\nchainette_x_bucket{le=\"1\"} 1\nchainette_x_bucket{le=\"+Inf\"} 2\nchainette_x_sum 3\nchainette_x_count 2\n";
    expect(parsePrometheusText(good).samples).toHaveLength(4);
    expect(() => parsePrometheusText(good.replace('le="+Inf"} 2', 'le="+Inf"} 0'))).toThrow(/not cumulative/);
    expect(() => parsePrometheusText(good.replace("chainette_x_count 2", "chainette_x_count 5"))).toThrow(/_count/);
    expect(() => parsePrometheusText("# TYPE a counter\na{b=\"c} 1\n")).toThrow(/labels/);
    expect(() => parsePrometheusText("# TYPE a counter\na -1\n")).toThrow(/negative/);
    expect(() => parsePrometheusText("a 1\n")).toThrow(/before its family/);
    expect(() => parsePrometheusText("# TYPE a counter\na 1\na 2\n")).toThrow(/duplicate/);
  });
});
