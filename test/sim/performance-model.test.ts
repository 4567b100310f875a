import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator, type SimulatorOptions } from "../../src/sim/index.js";
import { chatBody, getText, postJson } from "./sim-client.js";

const started: Simulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((sim) => sim.close()));
});

async function start(options: SimulatorOptions): Promise<Simulator> {
  const sim = await startSimulator(options);
  started.push(sim);
  return sim;
}

/** Polls `condition` every 2 ms until it holds (or fails the test after 2 s). */
async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 2000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error("condition not met within 2 s");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Reads the value of one metric line (labels matched as a substring). */
async function metric(sim: Simulator, name: string, labels = ""): Promise<number> {
  const { body } = await getText(`${sim.url}/metrics`);
  const line = body.split("\n").find((candidate) => candidate.startsWith(`${name}{`) && candidate.includes(labels));
  if (line === undefined) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(" ").at(-1));
}

// 252 content tokens + 4 template tokens = a 256-token prompt; 51 output tokens exactly (ignore_eos).
const prompt = "x".repeat(252 * 4);
const body = (index: number): Record<string, unknown> => chatBody(`${prompt.slice(0, -4)}${String(index).padStart(4, "0")}`, { max_tokens: 51, ignore_eos: true });

describe("continuous-batching performance model", () => {
  it("gives TTFT = 60 + 0.16 x prompt tokens and e2e = TTFT + 50 x ITL for a lone request (model clock)", async () => {
    const sim = await start({ timeScale: 20 });
    const startedAt = performance.now();
    expect((await postJson(`${sim.url}/v1/chat/completions`, body(0))).status).toBe(200);
    const wall = performance.now() - startedAt;
    expect(await metric(sim, "vllm:time_to_first_token_seconds_sum")).toBeCloseTo(0.10096, 6);
    expect(await metric(sim, "vllm:e2e_request_latency_seconds_sum")).toBeCloseTo(0.10096 + 50 * 0.012, 6);
    // 700.96 model ms at 20x: 35 ms of wall time, plus timer and HTTP overhead.
    expect(wall).toBeGreaterThan(33);
    expect(wall).toBeLessThan(400);
  });

  it("queues past max-num-seqs in FIFO order, and the gauges and counters move with load", async () => {
    // A slow clock (4x) so that the few wall milliseconds between arrivals are small next to a request.
    const sim = await start({ timeScale: 4, maxNumSeqs: 2 });
    const inFlight = [0, 1, 2, 3].map((index) => postJson(`${sim.url}/v1/chat/completions`, body(index)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await metric(sim, "vllm:num_requests_running")).toBe(2);
    expect(await metric(sim, "vllm:num_requests_waiting")).toBe(2);
    expect(await metric(sim, "vllm:kv_cache_usage_perc")).toBeGreaterThan(0);
    expect(sim.stats()).toMatchObject({ running: 2, waiting: 2 });
    await Promise.all(inFlight);
    expect(await metric(sim, "vllm:num_requests_running")).toBe(0);
    expect(await metric(sim, "vllm:num_requests_waiting")).toBe(0);
    expect(await metric(sim, "vllm:kv_cache_usage_perc")).toBe(0);
    expect(await metric(sim, "vllm:request_success_total", 'finished_reason="length"')).toBe(4);
    expect(await metric(sim, "vllm:generation_tokens_total")).toBe(4 * 51);
    expect(await metric(sim, "vllm:prompt_tokens_total")).toBe(4 * 256);
    // Two run together (ITL 12.1 ms), the other two wait one full request, then run: total e2e = 6 L.
    const lone = 100.96 + 50 * 12.1;
    const total = await metric(sim, "vllm:e2e_request_latency_seconds_sum");
    expect(Math.abs(total - (6 * lone) / 1000) / ((6 * lone) / 1000)).toBeLessThan(0.03);
  });

  it("slows every token as more requests run together", async () => {
    const sim = await start({ timeScale: 20 });
    await Promise.all(Array.from({ length: 8 }, (_, index) => postJson(`${sim.url}/v1/chat/completions`, body(index))));
    const mean = (await metric(sim, "vllm:e2e_request_latency_seconds_sum")) / 8;
    // Arrivals spread over a few wall milliseconds, so the batch is not full for every step: ITL between
    // ITL(2) and ITL(8), plus at most one step of waiting to join the batch after prefill.
    expect(mean).toBeGreaterThan(0.10096 + 50 * 0.0121);
    expect(mean).toBeLessThanOrEqual(0.10096 + 51 * 0.0127 + 1e-9);
  });

  it("answers instantly with time scale 0", async () => {
    const sim = await start({ timeScale: 0, maxNumSeqs: 1 });
    const startedAt = performance.now();
    await Promise.all(Array.from({ length: 50 }, (_, index) => postJson(`${sim.url}/v1/chat/completions`, body(index))));
    expect(performance.now() - startedAt).toBeLessThan(1000);
    expect(sim.stats()).toMatchObject({ completed: 50, running: 0, waiting: 0 });
  });

  it("frees the slot of a request whose client went away", async () => {
    const sim = await start({ timeScale: 1, maxNumSeqs: 1 });
    const controller = new AbortController();
    const abandoned = postJson(`${sim.url}/v1/chat/completions`, body(0), controller.signal).catch(() => "aborted");
    await waitFor(() => sim.stats().running === 1);
    controller.abort();
    expect(await abandoned).toBe("aborted");
    // The request needs 700 model ms (= wall ms here); the slot must be free well before that.
    const abortedAt = performance.now();
    await waitFor(() => sim.stats().running === 0);
    expect(performance.now() - abortedAt).toBeLessThan(300);
  });
});
