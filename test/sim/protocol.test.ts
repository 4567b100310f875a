import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { asCompletion, chatBody, contentOf, getText, MODEL, postJson, schemaBody } from "./sim-client.js";

let sim: Simulator;
let completions: string;

beforeAll(async () => {
  sim = await startSimulator({ timeScale: 1000, maxModelLen: 4096 });
  completions = `${sim.url}/v1/chat/completions`;
});
afterAll(() => sim.close());

/** Splits an SSE body into its `data:` payloads, checking the framing on the way. */
function sseEvents(body: string): string[] {
  expect(body.endsWith("data: [DONE]\n\n")).toBe(true);
  const events = body.split("\n\n").filter((event) => event !== "");
  for (const event of events) expect(event).toMatch(/^data: /);
  return events.map((event) => event.slice("data: ".length));
}

describe("OpenAI-compatible chat completions", () => {
  it("answers a chat.completion with usage, finish_reason and a unique request id", async () => {
    const first = asCompletion(await postJson(completions, chatBody("hello")));
    const second = asCompletion(await postJson(completions, chatBody("hello")));
    expect(first).toMatchObject({ object: "chat.completion", model: MODEL, choices: [{ index: 0, finish_reason: "stop", logprobs: null, message: { role: "assistant" } }] });
    expect(first.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(second.id).not.toBe(first.id);
    expect(Math.abs(first.created - Date.now() / 1000)).toBeLessThan(5);
    const { prompt_tokens, completion_tokens, total_tokens } = first.usage;
    expect(prompt_tokens).toBe(4 + Math.ceil("hello".length / 4));
    expect(completion_tokens).toBe(Math.ceil((first.choices[0]?.message.content.length ?? 0) / 4));
    expect(total_tokens).toBe(prompt_tokens + completion_tokens);
  });

  it("cuts the reply at max_tokens with finish_reason length", async () => {
    const reply = asCompletion(await postJson(completions, chatBody("a long story", { max_tokens: 5 })));
    expect(reply.choices[0]?.finish_reason).toBe("length");
    expect(reply.usage.completion_tokens).toBe(5);
    expect(reply.choices[0]?.message.content).toHaveLength(20);
  });

  it("honours ignore_eos: the reply runs exactly to max_tokens", async () => {
    const reply = asCompletion(await postJson(completions, chatBody("q", { max_tokens: 300, ignore_eos: true })));
    expect(reply.usage.completion_tokens).toBe(300);
    expect(reply.choices[0]?.finish_reason).toBe("length");
  });

  it("streams SSE chunks ending in data: [DONE], with the same content as the non-streaming reply", async () => {
    const body = schemaBody("stream me", { type: "object", properties: { text: { type: "string", minLength: 200, maxLength: 200 } }, required: ["text"] });
    const whole = contentOf(await postJson(completions, body));
    // A slower clock (55 tokens x 12 ms / 20 = 33 ms) so that tokens arrive over several timer wake-ups.
    const slower = await startSimulator({ timeScale: 20 });
    const streamed = await postJson(`${slower.url}/v1/chat/completions`, { ...body, stream: true, stream_options: { include_usage: true } });
    await slower.close();
    expect(streamed.status).toBe(200);
    expect(streamed.headers["content-type"]).toMatch(/^text\/event-stream/);
    const events = sseEvents(streamed.body);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event) as { id: string; object: string; choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[]; usage?: { completion_tokens: number } });
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk")).toBe(true);
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    // More than one content chunk: tokens arrive as the model clock advances.
    const contentChunks = chunks.filter((chunk) => (chunk.choices[0]?.delta.content ?? "") !== "");
    expect(contentChunks.length).toBeGreaterThan(1);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")).toBe(whole);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(Math.ceil(whole.length / 4));
  });

  it("streams without a usage chunk unless stream_options.include_usage is set", async () => {
    const events = sseEvents((await postJson(completions, chatBody("q", { stream: true }))).body);
    const last = JSON.parse(events.at(-2) ?? "{}") as { choices: { finish_reason: string }[]; usage?: unknown };
    expect(last.choices[0]?.finish_reason).toBe("stop");
    expect(last.usage).toBeUndefined();
  });

  it("answers 404 for another model, 400 for bad bodies and for requests past the context window", async () => {
    const unknown = await postJson(completions, { ...chatBody("q"), model: "gpt-4o" });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: { message: "The model `gpt-4o` does not exist.", code: 404 } });
    expect((await postJson(completions, { model: MODEL, messages: [] })).status).toBe(400);
    expect((await postJson(completions, chatBody("q", { max_tokens: 0 }))).status).toBe(400);
    const tooLong = await postJson(completions, chatBody("q", { max_tokens: 5000 }));
    expect(tooLong.status).toBe(400);
    expect(tooLong.body).toContain("maximum context length is 4096 tokens");
  });

  it("serves /health, /v1/models with max_model_len, and 404 elsewhere", async () => {
    expect(await getText(`${sim.url}/health`)).toEqual({ status: 200, body: "" });
    const models = JSON.parse((await getText(`${sim.url}/v1/models`)).body) as { data: { id: string; max_model_len: number }[] };
    expect(models.data).toEqual([expect.objectContaining({ id: MODEL, max_model_len: 4096, object: "model" })]);
    expect((await getText(`${sim.url}/nope`)).status).toBe(404);
    expect(sim.stats().requests["/health"]).toBe(1);
  });
});

describe("Ollama native API", () => {
  it("answers /api/chat with format = JSON Schema and stream: false", async () => {
    const schema = { type: "object", properties: { city: { type: "string" }, population: { type: "integer", minimum: 0 } }, required: ["city", "population"] };
    const reply = await postJson(`${sim.url}/api/chat`, { model: MODEL, messages: [{ role: "user", content: "a city" }], format: schema, stream: false, options: { temperature: 0 } });
    expect(reply.status).toBe(200);
    const body = reply.json as { message: { role: string; content: string }; done: boolean; done_reason: string; prompt_eval_count: number; eval_count: number; total_duration: number };
    expect(body).toMatchObject({ model: MODEL, done: true, done_reason: "stop", message: { role: "assistant" } });
    expect(JSON.parse(body.message.content)).toEqual({ city: expect.any(String) as unknown, population: expect.any(Number) as unknown });
    expect(body.eval_count).toBe(Math.ceil(body.message.content.length / 4));
    expect(body.total_duration).toBeGreaterThan(0);
  });

  it("streams NDJSON by default, ending with done: true", async () => {
    const reply = await postJson(`${sim.url}/api/chat`, { model: MODEL, messages: [{ role: "user", content: "hi" }], options: { num_predict: 50 } });
    const lines = reply.body.trim().split("\n").map((line) => JSON.parse(line) as { done: boolean; message: { content: string }; eval_count?: number });
    expect(lines.at(-1)?.done).toBe(true);
    expect(lines.slice(0, -1).every((line) => !line.done)).toBe(true);
    expect(lines.map((line) => line.message.content).join("").length).toBeGreaterThan(0);
  });

  it("lists the model on /api/tags and answers Ollama's 404 for unknown models", async () => {
    const tags = JSON.parse((await getText(`${sim.url}/api/tags`)).body) as { models: { name: string }[] };
    expect(tags.models.map((model) => model.name)).toEqual([MODEL]);
    const missing = await postJson(`${sim.url}/api/chat`, { model: "llama3", messages: [{ role: "user", content: "x" }], stream: false });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: 'model "llama3" not found, try pulling it first' });
  });
});
