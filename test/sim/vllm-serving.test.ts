import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator, type SimulatorOptions } from "../../src/sim/index.js";
import { parseSimArguments } from "../../src/sim/command.js";
import { asCompletion, chatBody, getText, MODEL, postJson } from "./sim-client.js";

const started: Simulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((sim) => sim.close()));
});

async function start(options: SimulatorOptions): Promise<Simulator> {
  const sim = await startSimulator(options);
  started.push(sim);
  return sim;
}

/** Reads one metric's value (the first line of that name). */
async function metric(sim: Simulator, name: string): Promise<number> {
  const { body } = await getText(`${sim.url}/metrics`);
  const line = body.split("\n").find((candidate) => candidate.startsWith(`${name}{`));
  if (line === undefined) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(" ").at(-1));
}

describe("/tokenize", () => {
  it("counts a chat prompt as the chat call does, with max_model_len", async () => {
    const sim = await start({ profile: "instant", maxModelLen: 8192 });
    const messages = [{ role: "system", content: "You are terse." }, { role: "user", content: "Name three rivers in Europe, please." }];
    const tokenized = await postJson(`${sim.url}/tokenize`, { model: MODEL, messages });
    expect(tokenized.status).toBe(200);
    const { count, max_model_len: maxModelLen, tokens } = tokenized.json as { count: number; max_model_len: number; tokens: number[] };
    const chat = asCompletion(await postJson(`${sim.url}/v1/chat/completions`, { model: MODEL, messages }));
    expect(count).toBe(chat.usage.prompt_tokens);
    expect(tokens).toHaveLength(count);
    expect(maxModelLen).toBe(8192);
    const plain = await postJson(`${sim.url}/tokenize`, { model: MODEL, prompt: "abcdefgh" });
    expect((plain.json as { count: number }).count).toBe(2);
  });

  it("answers 404 for another model and 400 for a body without messages or prompt", async () => {
    const sim = await start({ profile: "instant" });
    expect((await postJson(`${sim.url}/tokenize`, { model: "other", prompt: "hi" })).status).toBe(404);
    expect((await postJson(`${sim.url}/tokenize`, { model: MODEL })).status).toBe(400);
  });
});

describe("prefix caching", () => {
  // A 4,000-token shared document followed by a short question: the second request's prefill
  // skips the document's blocks. TTFT is read from the model-clock histogram, so wall-clock
  // noise does not enter: a lone request's TTFT is 60 ms + 0.16 ms x uncached prompt tokens.
  const document = "lorem ipsum dolor sit amet ".repeat(600).slice(0, 16_000);
  const ask = (question: string): Record<string, unknown> =>
    chatBody(`${document}\n${question}`, { max_tokens: 2, ignore_eos: true });

  it("skips the prefill of a recently seen prefix, and counts hits in /metrics", async () => {
    const sim = await start({ timeScale: 50, prefixCaching: true });
    asCompletion(await postJson(`${sim.url}/v1/chat/completions`, ask("What is the first word?")));
    const first = await metric(sim, "vllm:time_to_first_token_seconds_sum");
    asCompletion(await postJson(`${sim.url}/v1/chat/completions`, ask("What is the last word?")));
    const second = (await metric(sim, "vllm:time_to_first_token_seconds_sum")) - first;
    // About 4,008 prompt tokens: 60 + 641 ms uncached; cached, all but the last partial block.
    expect(first).toBeGreaterThan(0.6);
    expect(second).toBeLessThan(0.1);
    expect(await metric(sim, "vllm:prefix_cache_hits_total")).toBeGreaterThan(3900);
    expect(await metric(sim, "vllm:prefix_cache_queries_total")).toBeGreaterThan(8000);
  });

  it("is off by default: the same two requests pay the full prefill each", async () => {
    const sim = await start({ timeScale: 50 });
    asCompletion(await postJson(`${sim.url}/v1/chat/completions`, ask("What is the first word?")));
    const first = await metric(sim, "vllm:time_to_first_token_seconds_sum");
    asCompletion(await postJson(`${sim.url}/v1/chat/completions`, ask("What is the last word?")));
    const second = (await metric(sim, "vllm:time_to_first_token_seconds_sum")) - first;
    expect(second).toBeCloseTo(first, 2);
    expect((await getText(`${sim.url}/metrics`)).body).not.toContain("prefix_cache_hits");
  });
});

describe("priority scheduling", () => {
  it("serves waiting requests by priority (lower first) under --scheduling-policy priority", async () => {
    // One slot; the blocker holds it for 800 tokens x 12 ms = 9.6 s of model time (0.5 s of wall time).
    const sim = await start({ timeScale: 20, maxNumSeqs: 1, schedulingPolicy: "priority" });
    const order: string[] = [];
    const send = (name: string, priority: number): Promise<void> =>
      postJson(`${sim.url}/v1/chat/completions`, chatBody(name, { max_tokens: name === "blocker" ? 800 : 10, ignore_eos: true, priority })).then((reply) => {
        asCompletion(reply);
        order.push(name);
      });
    const blocker = send("blocker", 0);
    while (sim.stats().running < 1) await new Promise((resolve) => setTimeout(resolve, 2));
    const low = send("low", 10);
    while (sim.stats().waiting < 1) await new Promise((resolve) => setTimeout(resolve, 2));
    const high = send("high", -5);
    await Promise.all([blocker, low, high]);
    expect(order).toEqual(["blocker", "high", "low"]);
  });

  it("answers vLLM's 400 to a non-zero priority under fcfs", async () => {
    const sim = await start({ profile: "instant" });
    const reply = await postJson(`${sim.url}/v1/chat/completions`, chatBody("hi", { priority: 3 }));
    expect(reply.status).toBe(400);
    expect(reply.body).toContain("Priority scheduling is not enabled");
    expect((await postJson(`${sim.url}/v1/chat/completions`, chatBody("hi", { priority: 0 }))).status).toBe(200);
  });

  it("takes both settings from the command line", async () => {
    expect(parseSimArguments(["--enable-prefix-caching", "--scheduling-policy", "priority"])).toMatchObject({ prefixCaching: true, schedulingPolicy: "priority" });
    await expect(startSimulator({ schedulingPolicy: "lifo" as "fcfs" })).rejects.toThrow(/schedulingPolicy/);
  });
});
