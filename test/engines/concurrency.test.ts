/**
 * In-flight bounds and abort: an engine never has more than `concurrency` requests at the server,
 * queued calls honour their signal, and the Ollama backend runs against the simulator's /api/chat.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createEngine } from "../../src/engines/create-engine.js";
import type { Engine, GenerateRequest } from "../../src/engines/engine.js";
import { startSimulator } from "../../src/sim/index.js";
import { chatCompletion, startTestServer, type TestServer } from "./test-server.js";

const request: GenerateRequest = { messages: [{ role: "user", content: "hi" }], sampling: { maxTokens: 8 } };
let server: TestServer | undefined;
let engine: Engine | undefined;

afterEach(async () => {
  await engine?.close();
  await server?.stop();
  engine = undefined;
  server = undefined;
});

describe("concurrency", () => {
  it("keeps at most `concurrency` requests in flight", async () => {
    server = await startTestServer(() => ({ ...chatCompletion("ok"), delayMs: 20 }));
    const limited = createEngine({ name: "e", backend: "vllm_api", model: "m", endpoint: `${server.url}/v1`, concurrency: 4 });
    engine = limited;
    await Promise.all(Array.from({ length: 24 }, () => limited.generate(request)));
    expect(server.requests).toHaveLength(24);
    expect(server.maxInFlight).toBe(4);
  });

  it("drops a queued call whose signal aborts, without sending it", async () => {
    server = await startTestServer(() => ({ ...chatCompletion("ok"), delayMs: 100 }));
    engine = createEngine({ name: "e", backend: "vllm_api", model: "m", endpoint: `${server.url}/v1`, concurrency: 1 });
    const first = engine.generate(request);
    const controller = new AbortController();
    const queued = engine.generate({ ...request, signal: controller.signal });
    controller.abort(new Error("user stopped"));
    await expect(queued).rejects.toThrow("user stopped");
    await expect(first).resolves.toMatchObject({ text: "ok" });
    expect(server.requests).toHaveLength(1);
  });

  it("aborts a request in flight", async () => {
    server = await startTestServer(() => ({ ...chatCompletion("late"), delayMs: 5000 }));
    engine = createEngine({ name: "e", backend: "vllm_api", model: "m", endpoint: `${server.url}/v1` });
    const pending = engine.generate({ ...request, signal: AbortSignal.timeout(100) });
    await expect(pending).rejects.toMatchObject({ name: "TimeoutError" });
  });
});

describe("ollama_api against the simulator", () => {
  it("gets structured output and token counts from /api/chat", async () => {
    const sim = await startSimulator({ profile: "instant" });
    try {
      engine = createEngine({ name: "o", backend: "ollama_api", model: "sim-llama-3.1-8b", endpoint: sim.url });
      const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] };
      const result = await engine.generate({ messages: request.messages, sampling: { maxTokens: 512 }, schema: { name: "Answer", jsonSchema: schema } });
      expect(JSON.parse(result.text)).toHaveProperty("answer");
      expect(result.usage.inputTokens).toBeGreaterThan(0);
      expect(result.usage.outputTokens).toBeGreaterThan(0);
      expect(sim.stats().requests["/api/chat"]).toBe(1);
    } finally {
      await engine?.close();
      engine = undefined;
      await sim.close();
    }
  });
});

describe("close", () => {
  it("rejects queued calls with ABORTED and lets the one in flight finish", async () => {
    server = await startTestServer(() => ({ ...chatCompletion("done"), delayMs: 100 }));
    const closing = createEngine({ name: "e", backend: "vllm_api", model: "m", endpoint: `${server.url}/v1`, concurrency: 1 });
    const first = closing.generate(request);
    const queued = closing.generate(request);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Both outcomes are awaited together: the queued call may reject while the first is finishing.
    await Promise.all([closing.close(), expect(first).resolves.toMatchObject({ text: "done" }), expect(queued).rejects.toMatchObject({ code: "ABORTED" })]);
    expect(server.requests).toHaveLength(1);
  });
});
