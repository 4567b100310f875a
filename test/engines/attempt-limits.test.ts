/**
 * What bounds one attempt when nothing goes wrong loudly: a hung request is retried after a limit
 * derived from the server's latency (no `timeoutMs` set), a huge reply is cut at
 * `maxResponseBytes`, and sporadic 500s under high concurrency never mark the endpoint down.
 * Against the bundled simulator; no timed assertions (an old 600 s default shows as a test timeout).
 */
import { afterEach, describe, expect, it } from "vitest";
import { AttemptDeadline } from "../../src/engines/attempt-deadline.js";
import { createEngine, type CreateEngineOptions } from "../../src/engines/create-engine.js";
import type { Engine, EngineConfig, EngineEvent, GenerateRequest } from "../../src/engines/engine.js";
import { EngineRequestError } from "../../src/engines/engine-request-error.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";

const cleanups: (() => Promise<void>)[] = [];
let events: EngineEvent[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  events = [];
});

async function simulator(options: Parameters<typeof startSimulator>[0]): Promise<Simulator> {
  const started = await startSimulator(options);
  cleanups.push(() => started.close());
  return started;
}

function engineFor(sim: Simulator, config: Partial<EngineConfig> = {}, options: CreateEngineOptions = {}): Engine {
  const engine = createEngine(
    { name: "sim", backend: "vllm_api", model: sim.options.model, endpoint: `${sim.url}/v1`, ...config },
    { retry: { baseDelayMs: 5, maxDelayMs: 20 }, probeIntervalMs: 50, onEvent: (event) => events.push(event), ...options },
  );
  cleanups.push(() => engine.close());
  return engine;
}

/** A distinct request per index (rate-drawn faults depend on the body). */
const ask = (index: number): GenerateRequest => ({ messages: [{ role: "user", content: `Question ${index}` }], sampling: { maxTokens: 16 } });
const timeoutRetries = (): EngineEvent[] => events.filter((event) => event.type === "request-retry" && event.reason.startsWith("TIMEOUT"));

describe("attempt limit derived from latency (no timeoutMs)", () => {
  it("retries a request the server never answers, sent after the latency was known", async () => {
    const sim = await simulator({ profile: "instant", faults: { hang: [30] } });
    const engine = engineFor(sim, { concurrency: 4 }, { adaptiveTimeout: { floorMs: 300 } });
    const results = await Promise.all(Array.from({ length: 60 }, (_, index) => engine.generate(ask(index))));
    expect(results).toHaveLength(60);
    expect(results.filter((result) => result.attempts === 2)).toHaveLength(1);
    expect(timeoutRetries()).toHaveLength(1);
  });

  it("re-arms the requests sent before any latency was known (held to the 600 s ceiling at first)", async () => {
    const sim = await simulator({ profile: "instant", faults: { hang: [1, 2] } });
    const engine = engineFor(sim, { concurrency: 64 }, { adaptiveTimeout: { floorMs: 300 } });
    const results = await Promise.all(Array.from({ length: 200 }, (_, index) => engine.generate(ask(index))));
    expect(results.filter((result) => result.attempts === 2)).toHaveLength(2);
    expect(timeoutRetries()).toHaveLength(2);
  });

  it("follows the rule: 3 x p99 within floor and ceiling, ceiling until 20 successes, doubled per timeout", () => {
    const deadline = new AttemptDeadline(undefined, { floorMs: 1000, ceilingMs: 60_000 });
    expect(deadline.limitFor(0)).toBe(60_000);
    for (let index = 0; index < 19; index++) deadline.recordSuccess(2000);
    expect(deadline.limitFor(0)).toBe(60_000);
    deadline.recordSuccess(2000);
    expect([deadline.limitFor(0), deadline.limitFor(1), deadline.limitFor(2), deadline.limitFor(10)]).toEqual([6000, 12_000, 24_000, 60_000]);
    const fast = new AttemptDeadline(undefined, { floorMs: 1000 });
    for (let index = 0; index < 20; index++) fast.recordSuccess(10);
    expect(fast.limitFor(0)).toBe(1000);
    const fixed = new AttemptDeadline(5000);
    for (let index = 0; index < 100; index++) fixed.recordSuccess(10);
    expect([fixed.limitFor(0), fixed.limitFor(3)]).toEqual([5000, 5000]);
  });
});

describe("maxResponseBytes", () => {
  it("fails a 64 MiB reply at the 16 MiB default, having read little more than that", async () => {
    const sim = await simulator({ profile: "instant", faults: { hugeReply: [1] } });
    const engine = engineFor(sim);
    const error: unknown = await engine.generate(ask(0)).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(EngineRequestError);
    const failure = error as EngineRequestError;
    expect(failure.code).toBe("ENGINE_REQUEST");
    expect(failure.bodySnippet).toBe("RESPONSE_TOO_LARGE");
    expect(failure.attempts).toBe(1);
    expect(failure.message).toContain("maxResponseBytes (16777216 bytes)");
    // The simulator writes only as fast as the client reads: what it wrote is what was taken in.
    expect(sim.stats().hugeReplyBytesSent).toBeLessThan(24 * 1024 * 1024);
    // The endpoint answered: it is not marked down, and the next request goes through.
    await expect(engine.generate(ask(1))).resolves.toMatchObject({ attempts: 1 });
    expect(events.some((event) => event.type === "endpoint-down")).toBe(false);
  });

  it("takes a reply under the limit the config sets", async () => {
    const sim = await simulator({ profile: "instant", faults: { hugeReply: [1], hugeReplyBytes: 2 * 1024 * 1024 } });
    const engine = engineFor(sim, { maxResponseBytes: 4 * 1024 * 1024 });
    const result = await engine.generate(ask(0));
    expect(result.text.length).toBeGreaterThan(2_000_000);
  });
});

describe("sporadic 500s", () => {
  it("never mark the endpoint down: 3% HTTP 500 under 256 requests in flight", async () => {
    // Real latencies (scaled 4x): a 500 comes back at once, an answer after about 150 ms, so the
    // first 500s of the run complete back to back before any success.
    const sim = await simulator({ timeScale: 4, seed: 3, faults: { http500: 0.03 } });
    const engine = engineFor(sim, { concurrency: 256 });
    const results = await Promise.all(Array.from({ length: 1000 }, (_, index) => engine.generate(ask(index))));
    expect(results).toHaveLength(1000);
    expect(sim.stats().faults.http500).toBeGreaterThan(10);
    expect(events.filter((event) => event.type === "endpoint-down")).toEqual([]);
  }, 30_000);
});
