/**
 * Transport retry against a real loopback server: 500/503/429 are retried (Retry-After honoured),
 * connection resets and timeouts too; a 400 fails at once; exhausted retries reject with
 * ENGINE_REQUEST carrying status, attempts and a body snippet, never the API key.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createEngine } from "../../src/engines/create-engine.js";
import type { Engine, EngineEvent, GenerateRequest } from "../../src/engines/engine.js";
import { EngineRequestError } from "../../src/engines/engine-request-error.js";
import { chatCompletion, startTestServer, type Handler, type TestServer } from "./test-server.js";

const request: GenerateRequest = { messages: [{ role: "user", content: "hi" }], sampling: {} };
const fast = { baseDelayMs: 5, maxDelayMs: 20 };
const secret = "sk-never-show-me-42";

let server: TestServer | undefined;
let engine: Engine | undefined;
let events: EngineEvent[] = [];

afterEach(async () => {
  await engine?.close();
  await server?.stop();
  engine = undefined;
  server = undefined;
  events = [];
});

async function setup(handler: Handler, config: { maxRetries?: number; timeoutMs?: number } = {}): Promise<Engine> {
  server = await startTestServer(handler);
  engine = createEngine(
    { name: "sim", backend: "openai_compatible", model: "m", endpoint: `${server.url}/v1`, apiKeyEnv: "TEST_KEY", ...config },
    { retry: fast, probeIntervalMs: 50, env: { TEST_KEY: secret }, onEvent: (event) => event.type !== "concurrency-limit" && events.push(event) },
  );
  return engine;
}

async function failure(promise: Promise<unknown>): Promise<EngineRequestError> {
  const error: unknown = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(EngineRequestError);
  return error as EngineRequestError;
}

describe("retryable failures", () => {
  it.each([500, 502, 503, 504, 408, 429])("retries HTTP %i and then succeeds", async (status) => {
    const target = await setup((_request, index) => (index < 2 ? { status, json: { error: "busy" } } : chatCompletion("ok")));
    const result = await target.generate(request);
    expect(result.text).toBe("ok");
    expect(result.attempts).toBe(3);
    expect(events.map((event) => event.type === "request-retry" && event.status)).toEqual([status, status]);
  });

  it("honours Retry-After on 429", async () => {
    const target = await setup((_request, index) =>
      index === 0 ? { status: 429, headers: { "retry-after": "1" }, json: { error: "slow down" } } : chatCompletion("ok"),
    );
    const started = performance.now();
    await target.generate(request);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(5000);
    expect(events[0]).toMatchObject({ type: "request-retry", status: 429, delayMs: 1000, attempt: 1 });
  });

  it("retries a connection reset", async () => {
    const target = await setup((_request, index) => (index === 0 ? "reset" : chatCompletion("after reset")));
    const result = await target.generate(request);
    expect(result).toMatchObject({ text: "after reset", attempts: 2 });
    expect(events[0]).toMatchObject({ type: "request-retry", reason: expect.stringMatching(/UND_ERR_SOCKET|ECONNRESET/) as unknown });
  });

  it("retries a request that passes timeoutMs", async () => {
    const target = await setup((_request, index) => (index === 0 ? { ...chatCompletion("late"), delayMs: 1500 } : chatCompletion("on time")), {
      timeoutMs: 300,
    });
    const result = await target.generate(request);
    expect(result).toMatchObject({ text: "on time", attempts: 2 });
    expect(events[0]).toMatchObject({ type: "request-retry", reason: expect.stringContaining("TIMEOUT") as unknown });
  });

  it("bounds the whole attempt by timeoutMs, a body that keeps trickling in included", async () => {
    // Every gap (150 ms) is under timeoutMs, so only a deadline on the whole attempt cuts it.
    const target = await setup((_request, index) => (index === 0 ? { ...chatCompletion("too slow"), trickle: { chunks: 8, everyMs: 150 } } : chatCompletion("on time")), {
      timeoutMs: 400,
    });
    const result = await target.generate(request);
    expect(result).toMatchObject({ text: "on time", attempts: 2 });
    expect(events[0]).toMatchObject({ type: "request-retry", reason: "TIMEOUT: no complete answer within timeoutMs 400" });
  });
});

describe("failures that end the request", () => {
  it("fails a 400 at once, with status, attempts and a snippet", async () => {
    const target = await setup(() => ({ status: 400, json: { error: { message: "max_tokens is too large" } } }));
    const error = await failure(target.generate(request));
    expect(error).toMatchObject({ code: "ENGINE_REQUEST", status: 400, attempts: 1 });
    expect(error.bodySnippet).toContain("max_tokens is too large");
    expect(server?.requests).toHaveLength(1);
    expect(events).toEqual([]);
  });

  it("gives up after maxRetries", async () => {
    const target = await setup(() => ({ status: 429, text: "rate limited" }), { maxRetries: 2 });
    const error = await failure(target.generate(request));
    expect(error).toMatchObject({ code: "ENGINE_REQUEST", status: 429, attempts: 3, bodySnippet: "rate limited" });
    expect(error.message).toContain("after 3 attempts");
    expect(server?.requests).toHaveLength(3);
    expect(events.filter((event) => event.type === "request-retry")).toHaveLength(2);
  });

  it("gives up on a server that answers 500 while its health probe says it is fine, never marking it down", async () => {
    // 3 failures in a row ask the health path; it answers 200, so the endpoint stays up and every
    // attempt counts against maxRetries.
    const target = await setup(() => ({ status: 500, text: "internal error" }), { maxRetries: 4 });
    const error = await failure(target.generate(request));
    expect(error).toMatchObject({ code: "ENGINE_REQUEST", status: 500, bodySnippet: "internal error", attempts: 5 });
    expect(events.map((event) => event.type)).not.toContain("endpoint-down");
    const probe = server?.probes.find((candidate) => candidate.path !== "/metrics");
    expect(probe?.path).toBe("/v1/models");
    expect(probe?.headers.authorization).toBe(`Bearer ${secret}`);
  });

  it("sends the key in Authorization and never shows it in errors, events or config", async () => {
    // A hostile or careless server echoes the header back in its error body.
    const target = await setup((recorded) => ({ status: 401, text: `bad key: ${String(recorded.headers.authorization)}` }));
    const error = await failure(target.generate(request));
    expect(server?.requests[0]?.headers.authorization).toBe(`Bearer ${secret}`);
    const shown = JSON.stringify([error.message, error.bodySnippet, String(error.stack), events, target.config, error]);
    expect(shown).not.toContain(secret);
    expect(error.bodySnippet).toContain("[REDACTED]");
  });
});

describe("abort", () => {
  it("rejects with the signal's reason during a backoff", async () => {
    const target = await setup(() => ({ status: 503, headers: { "retry-after": "30" } }));
    const controller = new AbortController();
    const pending = target.generate({ ...request, signal: controller.signal });
    setTimeout(() => controller.abort(new Error("stop now")), 100);
    await expect(pending).rejects.toThrow("stop now");
  });
});
