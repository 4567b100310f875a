/**
 * Adaptive concurrency against the simulator's scheduler (and a rate-limiting test server): a vLLM
 * server's queue is kept short but not empty, `maxShare` caps our share of its slots, servers
 * without metrics are backed off on 429, endpoints get work in proportion to their capacity.
 */
import { describe, expect, it } from "vitest";
import type { EngineEvent, GenerateRequest } from "../../src/engines/engine.js";
import { parseServerLoad } from "../../src/engines/server-load.js";
import { engineHarness } from "./engine-harness.js";
import { chatCompletion } from "./test-server.js";

const { sim, server: testServer, engine } = engineHarness();

/** A request of exactly `tokens` output tokens (vLLM's `ignore_eos`); `index` makes its prompt unique. */
const request = (index: number, tokens = 128): GenerateRequest => ({
  messages: [{ role: "user", content: `question ${index}` }],
  sampling: { maxTokens: tokens, extra: { ignore_eos: true } },
});

/** Samples `read()` every 10 ms while `work` runs. */
async function sampled<T>(read: () => number, work: Promise<T>): Promise<number[]> {
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(read()), 10);
  try {
    await work;
  } finally {
    clearInterval(timer);
  }
  return samples;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

describe("vLLM queue target (from /metrics)", () => {
  it("keeps the server's queue short but not empty under a ceiling of 256, where a fixed 256 floods it", async () => {
    // 32 slots, 128-token replies at time scale 8: about 130 requests a second of wall time.
    const adaptiveSim = await sim({ maxNumSeqs: 32, timeScale: 8 });
    const events: EngineEvent[] = [];
    const adaptive = engine({ endpoint: `${adaptiveSim.url}/v1`, concurrency: 256 }, events);
    const adaptiveWaiting = await sampled(() => adaptiveSim.stats().waiting, Promise.all(Array.from({ length: 480 }, (_, index) => adaptive.generate(request(index)))));
    const steady = adaptiveWaiting.slice(Math.floor(adaptiveWaiting.length / 4));
    expect(median(steady)).toBeLessThanOrEqual(8);
    expect(steady.filter((waiting) => waiting > 0).length / steady.length).toBeGreaterThan(0.5);
    const limits = events.filter((event) => event.type === "concurrency-limit");
    expect(limits.at(-1)).toMatchObject({ engine: "llm", policy: "queue", slots: 32 });

    const fixedSim = await sim({ maxNumSeqs: 32, timeScale: 8 });
    const fixed = engine({ endpoint: `${fixedSim.url}/v1`, concurrency: 256, adaptiveConcurrency: false });
    const fixedWaiting = await sampled(() => fixedSim.stats().waiting, Promise.all(Array.from({ length: 480 }, (_, index) => fixed.generate(request(index)))));
    expect(median(fixedWaiting)).toBeGreaterThan(100);
  }, 30_000);

  it("keeps every slot busy: a median of 32 of 32 running past the start", async () => {
    const first = await sim({ maxNumSeqs: 32, timeScale: 8 });
    const adaptive = engine({ endpoint: `${first.url}/v1`, concurrency: 256 });
    const running = await sampled(() => first.stats().running, Promise.all(Array.from({ length: 400 }, (_, index) => adaptive.generate(request(index)))));
    // Past the start (the first readings of /metrics), the 32 slots stay full.
    const steady = running.slice(Math.floor(running.length / 4), Math.floor((running.length * 3) / 4));
    expect(median(steady)).toBe(32);
  }, 30_000);

  it("uses at most maxShare of the server's slots once it knows them", async () => {
    const shared = await sim({ maxNumSeqs: 32, timeScale: 8 });
    const events: EngineEvent[] = [];
    const polite = engine({ endpoint: `${shared.url}/v1`, concurrency: 256, maxShare: 0.5 }, events);
    const load = await sampled(() => shared.stats().running + shared.stats().waiting, Promise.all(Array.from({ length: 240 }, (_, index) => polite.generate(request(index)))));
    const later = load.slice(Math.floor(load.length / 2));
    expect(Math.max(...later)).toBeLessThanOrEqual(16);
    expect(events.filter((event) => event.type === "concurrency-limit").at(-1)).toMatchObject({ limit: 16 });
  }, 30_000);
});

describe("AIMD (servers without /metrics)", () => {
  it("backs off a server that answers 429 past 6 requests in flight", async () => {
    let rejected = 0;
    const server = await testServer(() => {
      if (server.inFlight > 6) {
        rejected++;
        return { status: 429, json: { error: { message: "rate limited" } }, headers: { "retry-after": "0" } };
      }
      return { ...chatCompletion("ok"), delayMs: 15 };
    });
    const events: EngineEvent[] = [];
    const client = engine({ backend: "openai_compatible", endpoint: `${server.url}/v1`, concurrency: 64, maxRetries: 50 }, events);
    await Promise.all(Array.from({ length: 300 }, (_, index) => client.generate(request(index, 8))));
    // AIMD keeps to the server's pace...
    expect(rejected / 300).toBeLessThan(0.25);
    expect(events.filter((event) => event.type === "concurrency-limit").every((event) => event.type === "concurrency-limit" && event.policy === "aimd")).toBe(true);
    // ...where a fixed 64 in flight sees most of its attempts refused.
    rejected = 0;
    const fixed = engine({ backend: "openai_compatible", endpoint: `${server.url}/v1`, concurrency: 64, maxRetries: 50, adaptiveConcurrency: false });
    // (some of its requests may run out of retries: what counts here is how often the server refused)
    await Promise.allSettled(Array.from({ length: 300 }, (_, index) => fixed.generate(request(index, 8))));
    expect(rejected / 300).toBeGreaterThan(1);
  }, 30_000);
});

describe("several endpoints", () => {
  it("gives each endpoint work in proportion to its capacity (64 and 16 slots)", async () => {
    const big = await sim({ maxNumSeqs: 64, timeScale: 8 });
    const small = await sim({ maxNumSeqs: 16, timeScale: 8 });
    const both = engine({ endpoint: [`${big.url}/v1`, `${small.url}/v1`], concurrency: 256 });
    await Promise.all(Array.from({ length: 600 }, (_, index) => both.generate(request(index, 64))));
    const ratio = big.stats().completed / small.stats().completed;
    // Capacity ratio: 64 x ITL(16) / (16 x ITL(64)) = 64 x 13.5 / (16 x 18.3) = 2.95; the whole run,
    // ramp-up included, measured 2.2-2.9. Placing the calls in turn would give 1.0.
    expect(ratio).toBeGreaterThan(1.8);
  }, 30_000);
});

describe("parseServerLoad", () => {
  it("sums vLLM's gauges over label sets, reads the older KV-cache name, and refuses a page without them", () => {
    const page = [
      "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
      "# TYPE vllm:num_requests_waiting gauge",
      'vllm:num_requests_waiting{engine="0",model_name="m"} 3.0',
      'vllm:num_requests_waiting{engine="1",model_name="m"} 2.0',
      'vllm:num_requests_running{engine="0",model_name="m"} 32.0',
      'vllm:num_requests_running{engine="1",model_name="m"} 30.0',
      'vllm:gpu_cache_usage_perc{model_name="m"} 0.5',
      'vllm:request_success_total{finished_reason="stop",model_name="m"} 100.0',
    ].join("\n");
    expect(parseServerLoad(page)).toEqual({ waiting: 5, running: 62, kvCacheUsage: 0.5 });
    expect(parseServerLoad("# HELP process_cpu_seconds_total\nprocess_cpu_seconds_total 12.5\n")).toBeUndefined();
    expect(parseServerLoad("")).toBeUndefined();
  });
});
