import { connect } from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { asCompletion, chatBody, contentOf, getText, postJson, schemaBody } from "./sim-client.js";

let sim: Simulator;
let completions: string;
const schema = { type: "object", properties: { answer: { type: "string", minLength: 40 }, score: { type: "integer" } }, required: ["answer", "score"] };

beforeAll(async () => {
  sim = await startSimulator({ profile: "instant" });
  completions = `${sim.url}/v1/chat/completions`;
});
afterAll(() => sim.close());
beforeEach(() => sim.setFaults({}));

/** Sends one HTTP request on a raw socket; resolves with every byte received and how it ended. */
function rawRequest(body: unknown): Promise<{ received: string; error: string | undefined }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const socket = connect(sim.port, "127.0.0.1");
    let received = "";
    let error: string | undefined;
    socket.on("data", (data: Buffer) => (received += data.toString("utf8")));
    socket.on("error", (problem: NodeJS.ErrnoException) => (error = problem.code));
    socket.on("close", () => resolve({ received, error }));
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`);
  });
}

describe("fault injection, scheduled by request ordinal", () => {
  it("answers HTTP 500 and 503 with an error body", async () => {
    sim.setFaults({ http500: [1], http503: [2] });
    const first = await postJson(completions, chatBody("a"));
    const second = await postJson(completions, chatBody("a"));
    const third = await postJson(completions, chatBody("a"));
    expect([first.status, second.status, third.status]).toEqual([500, 503, 200]);
    expect(first.json).toMatchObject({ error: { code: 500, type: "InternalServerError" } });
    expect(sim.stats().faults).toMatchObject({ http500: 1, http503: 1 });
  });

  it("answers 429 with Retry-After", async () => {
    sim.setFaults({ http429: [1], retryAfterSeconds: 3 });
    const reply = await postJson(completions, chatBody("a"));
    expect(reply.status).toBe(429);
    expect(reply.headers["retry-after"]).toBe("3");
  });

  it("resets the connection before any byte of the reply", async () => {
    sim.setFaults({ resetBeforeBody: [1] });
    expect(await rawRequest(chatBody("a"))).toEqual({ received: "", error: "ECONNRESET" });
    await expect(request(completions, { method: "POST", body: JSON.stringify(chatBody("a")) }).then((response) => response.body.text())).resolves.toContain("chat.completion");
  });

  it("resets mid-body: headers and part of a JSON body, then ECONNRESET", async () => {
    sim.setFaults({ resetMidBody: [1] });
    const { received, error } = await rawRequest(schemaBody("a", schema));
    expect(error).toBe("ECONNRESET");
    expect(received).toMatch(/^HTTP\/1\.1 200 OK/);
    const [head = "", body = ""] = received.split("\r\n\r\n");
    const declared = Number(/content-length: (\d+)/i.exec(head)?.[1]);
    expect(body.length).toBeGreaterThan(0);
    expect(body.length).toBeLessThan(declared);
  });

  it("resets mid-stream: some SSE chunks, no [DONE]", async () => {
    sim.setFaults({ resetMidBody: [1] });
    const { received, error } = await rawRequest(schemaBody("a", schema, { stream: true }));
    expect(error).toBe("ECONNRESET");
    expect(received).toContain("chat.completion.chunk");
    expect(received).not.toContain("[DONE]");
  });

  it("hangs past the client's timeout, and close() still ends at once", async () => {
    const hanging = await startSimulator({ profile: "instant", faults: { hang: [1] } });
    const attempt = request(`${hanging.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(chatBody("a")), signal: AbortSignal.timeout(150) });
    await expect(attempt).rejects.toThrow(/abort|timeout/i);
    const held = request(`${hanging.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(chatBody("b")) });
    // The second request is not scheduled to hang: the server is still alive.
    expect((await held).statusCode).toBe(200);
    const stuck = startSimulator({ profile: "instant", faults: { hang: 1 } }).then(async (other) => {
      const pending = request(`${other.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(chatBody("c")) });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(other.stats().hanging).toBe(1);
      const started = performance.now();
      await other.close();
      await expect(pending).rejects.toThrow();
      return performance.now() - started;
    });
    expect(await stuck).toBeLessThan(500);
    await hanging.close();
  });

  it("sends invalid JSON content although a schema was asked for", async () => {
    sim.setFaults({ invalidJson: [1] });
    const broken = contentOf(await postJson(completions, schemaBody("a", schema)));
    expect(() => JSON.parse(broken) as unknown).toThrow();
    const good = contentOf(await postJson(completions, schemaBody("a", schema)));
    expect(JSON.parse(good)).toMatchObject({ answer: expect.any(String) as unknown });
  });

  it("sends truncated JSON with finish_reason length", async () => {
    sim.setFaults({ truncatedJson: [1] });
    const truncated = asCompletion(await postJson(completions, schemaBody("a", schema)));
    const whole = contentOf(await postJson(completions, schemaBody("a", schema)));
    const content = truncated.choices[0]?.message.content ?? "";
    expect(truncated.choices[0]?.finish_reason).toBe("length");
    expect(() => JSON.parse(content) as unknown).toThrow();
    expect(whole.startsWith(content)).toBe(true);
    expect(content.length).toBeLessThan(whole.length);
  });

  it("sends a huge reply: chunked, no content-length, valid once read whole, as JSON or as a stream", async () => {
    const bytes = 1024 * 1024;
    sim.setFaults({ hugeReply: [1, 2], hugeReplyBytes: bytes });
    const whole = await request(completions, { method: "POST", body: JSON.stringify(chatBody("a")) });
    expect(whole.statusCode).toBe(200);
    expect(whole.headers["content-length"]).toBeUndefined();
    const text = await whole.body.text();
    expect(Buffer.byteLength(text)).toBe(bytes);
    const completion = JSON.parse(text) as { choices: { message: { content: string }; finish_reason: string }[] };
    expect(completion.choices[0]?.message.content.length).toBeGreaterThan(bytes - 1000);
    expect(completion.choices[0]?.finish_reason).toBe("length");
    const streamed = await request(completions, { method: "POST", body: JSON.stringify(chatBody("a", { stream: true })) });
    const frames = await streamed.body.text();
    expect(Buffer.byteLength(frames)).toBeGreaterThanOrEqual(bytes - 64 * 1024);
    expect(frames.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(sim.stats()).toMatchObject({ faults: { hugeReply: 2 }, hugeReplyBytesSent: bytes + Buffer.byteLength(frames) });
  });

  it("dies after N requests: /health 503 and every request 500", async () => {
    sim.setFaults({ deadAfterRequests: 2 });
    expect((await postJson(completions, chatBody("a"))).status).toBe(200);
    expect((await getText(`${sim.url}/health`)).status).toBe(200);
    expect((await postJson(completions, chatBody("b"))).status).toBe(200);
    expect((await getText(`${sim.url}/health`)).status).toBe(503);
    expect((await postJson(completions, chatBody("c"))).status).toBe(500);
    expect((await getText(`${sim.url}/v1/models`)).status).toBe(500);
    expect(sim.stats().faults.dead).toBe(1);
  });

  it("starts slowly: /health and requests answer 503 for the given seconds", async () => {
    sim.setFaults({ slowStartSeconds: 0.3 });
    expect((await getText(`${sim.url}/health`)).status).toBe(503);
    expect((await postJson(completions, chatBody("a"))).status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await getText(`${sim.url}/health`)).status).toBe(200);
    expect((await postJson(completions, chatBody("a"))).status).toBe(200);
  });
});

describe("fault injection by rate", () => {
  async function failurePattern(seed: number, questions: string[]): Promise<number[]> {
    const rated = await startSimulator({ profile: "instant", seed, faults: { http500: 0.3 } });
    try {
      const statuses = await Promise.all(questions.map((question) => postJson(`${rated.url}/v1/chat/completions`, chatBody(question)).then((reply) => reply.status)));
      return statuses;
    } finally {
      await rated.close();
    }
  }

  it("fails about the given share of requests, the same ones for the same seed whatever the order", async () => {
    const questions = Array.from({ length: 300 }, (_, index) => `question ${index}`);
    const first = await failurePattern(1, questions);
    const reversed = (await failurePattern(1, [...questions].reverse())).reverse();
    const otherSeed = await failurePattern(2, questions);
    const failed = first.filter((status) => status === 500).length;
    expect(failed).toBeGreaterThan(60);
    expect(failed).toBeLessThan(120);
    expect(reversed).toEqual(first);
    expect(otherSeed).not.toEqual(first);
  });

  it("lets a retried request succeed: each arrival of the same body draws again", async () => {
    const rated = await startSimulator({ profile: "instant", faults: { http503: 0.5 } });
    const attempts: number[] = [];
    for (let index = 0; index < 20; index++) {
      let attempt = 1;
      while ((await postJson(`${rated.url}/v1/chat/completions`, chatBody(`retry ${index}`))).status !== 200) attempt++;
      attempts.push(attempt);
    }
    await rated.close();
    expect(Math.max(...attempts)).toBeGreaterThan(1);
    expect(Math.max(...attempts)).toBeLessThan(15);
  });
});
