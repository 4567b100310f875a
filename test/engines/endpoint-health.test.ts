/**
 * Several endpoints and their health, against the bundled simulator and a loopback server that
 * stops and starts again: load is spread, a fault sequence is survived, calls wait while every
 * endpoint is down and succeed when one comes back, and reject with ENGINE_DOWN past the deadline.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createEngine, type CreateEngineOptions } from "../../src/engines/create-engine.js";
import type { Engine, EngineConfig, EngineEvent, GenerateRequest } from "../../src/engines/engine.js";
import { isChainetteError } from "../../src/errors.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { chatCompletion, startTestServer, type TestServer } from "./test-server.js";

const request: GenerateRequest = { messages: [{ role: "user", content: "Say hi" }], sampling: { maxTokens: 16 } };
const cleanups: (() => Promise<void>)[] = [];
let events: EngineEvent[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  events = [];
});

async function simulator(options: Parameters<typeof startSimulator>[0] = {}): Promise<Simulator> {
  const started = await startSimulator({ profile: "instant", ...options });
  cleanups.push(() => started.close());
  return started;
}

function engineFor(config: Partial<EngineConfig> & { endpoint: string | string[] }, options: CreateEngineOptions = {}): Engine {
  const engine = createEngine(
    { name: "sim", backend: "vllm_api", model: "sim-llama-3.1-8b", ...config },
    { retry: { baseDelayMs: 5, maxDelayMs: 20 }, probeIntervalMs: 50, onEvent: (event) => event.type !== "concurrency-limit" && events.push(event), ...options },
  );
  cleanups.push(() => engine.close());
  return engine;
}

const chatCount = (sim: Simulator): number => sim.stats().requests["/v1/chat/completions"] ?? 0;
const until = async (condition: () => boolean): Promise<void> => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe("several endpoints", () => {
  it("spreads requests across them (least in flight)", async () => {
    const sims = await Promise.all([simulator(), simulator(), simulator()]);
    const engine = engineFor({ endpoint: sims.map((sim) => `${sim.url}/v1`), concurrency: 12 });
    const results = await Promise.all(Array.from({ length: 90 }, () => engine.generate(request)));
    expect(results.every((result) => result.attempts === 1)).toBe(true);
    for (const sim of sims) expect(chatCount(sim)).toBeGreaterThanOrEqual(20);
    expect(sims.reduce((sum, sim) => sum + chatCount(sim), 0)).toBe(90);
  });

  it("routes around an endpoint that is down", async () => {
    const [healthy, dead] = await Promise.all([simulator(), simulator({ faults: { deadAfterRequests: 0 } })]);
    const engine = engineFor({ endpoint: [`${dead.url}/v1`, `${healthy.url}/v1`], concurrency: 4 });
    const results = await Promise.all(Array.from({ length: 40 }, () => engine.generate(request)));
    expect(results).toHaveLength(40);
    expect(events.filter((event) => event.type === "endpoint-down")).toHaveLength(1);
    expect(events.some((event) => event.type === "engine-down")).toBe(false);
    expect(chatCount(dead)).toBeLessThanOrEqual(6);
  });

  it("keeps an endpoint up through a storm of 500s while its health path is fine, and marks a dead one down", async () => {
    // One server answers every chat request 500 but /health 200; the other's engine died
    // (/health 503, every request 500). Only the dead one is an outage.
    const [erring, dead] = await Promise.all([simulator({ faults: { http500: 1 } }), simulator({ faults: { deadAfterRequests: 0 } })]);
    const engine = engineFor({ endpoint: [`${erring.url}/v1`, `${dead.url}/v1`], concurrency: 8, maxRetries: 3 });
    const outcomes = await Promise.allSettled(Array.from({ length: 40 }, () => engine.generate(request)));
    expect(outcomes.every((outcome) => outcome.status === "rejected")).toBe(true);
    const downs = events.filter((event) => event.type === "endpoint-down");
    expect(downs.map((event) => (event.type === "endpoint-down" ? event.endpoint : ""))).toEqual([`${dead.url}/v1`]);
    expect(downs[0]?.type === "endpoint-down" && downs[0].reason).toContain("health check failed");
    expect(erring.stats().requests["/health"] ?? 0).toBeGreaterThan(0);
  });

  it("survives the simulator's fault mix on one request", async () => {
    const sim = await simulator({ faults: { http500: [1], http503: [2], resetBeforeBody: [3], resetMidBody: [4], http429: [5], retryAfterSeconds: 0 } });
    const engine = engineFor({ endpoint: `${sim.url}/v1` }, { failureThreshold: 10 });
    const result = await engine.generate(request);
    expect(result.attempts).toBe(6);
    expect(events.map((event) => (event.type === "request-retry" ? (event.status ?? "no response") : event.type))).toEqual([
      500, 503, "no response", "no response", 429,
    ]);
  });
});

describe("every endpoint down", () => {
  it("makes calls wait without failing them, and they succeed when an endpoint comes back", async () => {
    const sims = await Promise.all([simulator({ faults: { deadAfterRequests: 0 } }), simulator({ faults: { deadAfterRequests: 0 } })]);
    const engine = engineFor({ endpoint: sims.map((sim) => `${sim.url}/v1`), concurrency: 8 });
    const calls = Array.from({ length: 20 }, () => engine.generate(request));
    await until(() => events.some((event) => event.type === "engine-down"));
    await new Promise((resolve) => setTimeout(resolve, 300)); // down for a while: nothing may fail
    sims[1]?.setFaults({});
    const results = await Promise.all(calls);
    expect(results).toHaveLength(20);
    const types = events.map((event) => event.type);
    expect(types.filter((type) => type === "engine-down")).toHaveLength(1);
    expect(types.filter((type) => type === "engine-up")).toHaveLength(1);
    expect(types.indexOf("engine-down")).toBeLessThan(types.indexOf("engine-up"));
  });

  it("waits through a server that refuses connections and comes back on the same port", async () => {
    const server: TestServer = await startTestServer(() => chatCompletion("back"));
    cleanups.push(() => server.stop());
    const engine = engineFor({ endpoint: `${server.url}/v1`, concurrency: 4, maxRetries: 0 });
    await server.stop();
    const calls = Array.from({ length: 6 }, () => engine.generate(request));
    await until(() => events.some((event) => event.type === "engine-down"));
    await server.start();
    const results = await Promise.all(calls);
    expect(results.map((result) => result.text)).toEqual(Array(6).fill("back"));
    expect(events.at(-1)).toEqual({ type: "engine-up", engine: "sim" });
  });

  it("rejects waiting calls with ENGINE_DOWN past engineDownTimeoutMs", async () => {
    const sim = await simulator({ faults: { deadAfterRequests: 0 } });
    const engine = engineFor({ endpoint: `${sim.url}/v1`, concurrency: 4 }, { engineDownTimeoutMs: 300 });
    const started = performance.now();
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => engine.generate(request)));
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe("rejected");
      const reason: unknown = outcome.status === "rejected" ? outcome.reason : undefined;
      expect(isChainetteError(reason, "ENGINE_DOWN")).toBe(true);
    }
    expect(events.filter((event) => event.type === "engine-down")).toHaveLength(1);
    // Later calls fail at once while it stays down.
    await expect(engine.generate(request)).rejects.toMatchObject({ code: "ENGINE_DOWN" });
  });
});
