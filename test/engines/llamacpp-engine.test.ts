/**
 * The `llamacpp` engine on a real GGUF model the test writes itself (test/helpers/tiny-gguf.ts),
 * through node-llama-cpp in the engine's worker process: schema-constrained replies, a broken model
 * file, the worker dying mid-generation, abort and close.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { ChainPlan } from "../../src/core/plan.js";
// The built engine, as the CLI runs it: its worker is the compiled dist/engines/llamacpp-worker.js
// (the sources' worker runs through tsx, ~3 s more a start on this machine).
import { createEngine } from "../../dist/engines/create-engine.js";
import { parseEnginesYaml } from "../../src/engines/engines-yaml.js";
import { closeEngines, createPlanEngines } from "../../dist/pipeline/create-engines.js";
import type { Engine, GenerateRequest } from "../../src/engines/engine.js";
import { defaultLlamaCppThreads, type LlamaCppEngine } from "../../dist/engines/llamacpp-engine.js";
import { writeTinyGguf } from "../helpers/tiny-gguf.js";

const Answer = z.object({ answer: z.string(), score: z.number(), ok: z.boolean(), kind: z.enum(["fact", "opinion"]) });
const request = (text: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  messages: [{ role: "system", content: "Answer in JSON." }, { role: "user", content: text }],
  sampling: { temperature: 0.8, seed: 7, maxTokens: 64 },
  schema: { name: "answer", jsonSchema: z.toJSONSchema(Answer) },
  ...extra,
});
/** A request without a schema: free text, which the endless model never ends before maxTokens. */
const freeText = (text: string, signal?: AbortSignal): GenerateRequest => ({
  messages: [{ role: "user", content: text }],
  sampling: { temperature: 1, seed: 1, maxTokens: 4000 },
  ...(signal === undefined ? {} : { signal }),
});

let work: string;
let model: string;
/** The same model that never ends a free-text reply: a request in flight for seconds. */
let endless: string;
const engines: Engine[] = [];
const llamacpp = (name: string, path = model, concurrency = 2): LlamaCppEngine => {
  const engine = createEngine({ name, backend: "llamacpp", model: path, threads: 1, concurrency }) as LlamaCppEngine;
  engines.push(engine);
  return engine;
};

/** One engine on the good model, shared by the tests that only generate. */
let shared: LlamaCppEngine | undefined;
const tiny = (): LlamaCppEngine => (shared ??= llamacpp("tiny"));
/** One engine on the endless model, one sequence: the worker-killed test, then the abort/close one. */
let sharedEndless: LlamaCppEngine | undefined;
const endlessEngine = (): LlamaCppEngine => (sharedEndless ??= llamacpp("endless", endless, 1));

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "llamacpp-"));
  model = join(work, "tiny.gguf");
  writeTinyGguf(model);
  endless = join(work, "endless.gguf");
  writeTinyGguf(endless, { bias: { "</s>": -30 } });
});
afterAll(async () => {
  await Promise.all(engines.map((engine) => engine.close()));
  rmSync(work, { recursive: true, force: true });
});

describe("llamacpp engine", () => {
  it("answers through the JSON-schema grammar: every reply parses and matches the schema", async () => {
    const engine = tiny();
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => engine.generate(request(`Question ${i}: is ${i} even?`, { sampling: { temperature: 0.8, seed: i, maxTokens: 64 } }))));
    for (const result of results) {
      expect(Answer.safeParse(JSON.parse(result.text)).success, result.text).toBe(true);
      expect(result.finishReason).toBe("stop");
      expect(result.usage.outputTokens).toBeGreaterThan(0);
      expect(result.usage.inputTokens).toBeGreaterThan(0);
    }
    // The sampled strings differ between seeds: the model really generates.
    expect(new Set(results.map((result) => result.text)).size).toBeGreaterThan(1);
  }, 60_000);

  it("counts the whole prompt as input tokens, even when the sequence reuses it from its last request", async () => {
    const engine = tiny();
    const first = await engine.generate(request("The same question"));
    const second = await engine.generate(request("The same question"));
    expect(first.usage.inputTokens).toBeGreaterThan(20);
    expect(second.usage.inputTokens).toBe(first.usage.inputTokens);
  }, 30_000);

  it("reports a reply cut at maxTokens as finishReason length", async () => {
    const result = await tiny().generate(request("Question", { sampling: { temperature: 0, maxTokens: 3 } }));
    expect(result.finishReason).toBe("length");
    expect(result.text.length).toBeLessThanOrEqual(3);
  }, 30_000);

  it("a truncated file: ENGINE_CONFIG naming the file and llama.cpp's reason, for every request", async () => {
    // (A model that makes llama.cpp abort natively is in test/run/llamacpp-run.test.ts.)
    const broken = join(work, "truncated.gguf");
    writeTinyGguf(broken, { truncateTo: 200_000 });
    const engine = llamacpp("broken", broken);
    const failures = await Promise.allSettled([engine.generate(request("a")), engine.generate(request("b"))]);
    for (const failure of failures) {
      expect(failure.status).toBe("rejected");
      const error = (failure as PromiseRejectedResult).reason as Error & { code?: string };
      expect(error.code, String(error)).toBe("ENGINE_CONFIG");
      expect(error.message).toContain(`could not load the model ${broken}`);
      expect(error.message).toContain("is not within the file bounds, model is corrupted or incomplete");
    }
    // Later requests fail at once, the same way.
    await expect(engine.generate(request("c"))).rejects.toMatchObject({ code: "ENGINE_CONFIG" });
  }, 30_000);

  it("a model file that does not exist is ENGINE_CONFIG when the engine is created, before any worker starts", () => {
    expect(() => llamacpp("absent", join(work, "absent.gguf"))).toThrow(/cannot read the model file .*absent\.gguf \(ENOENT\)/);
    expect(() => llamacpp("folder", work)).toThrow(/is not a file/);
  });

  it("the worker killed mid-generation: the rows in flight fail as ENGINE_REQUEST, the next request gets a new worker", async () => {
    const engine = endlessEngine();
    await engine.generate(request("warm up"));
    const pid = engine.workerPid;
    expect(pid).toBeDefined();
    // Long enough to be in flight when the kill lands.
    const inFlight = engine.generate(freeText("long")).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(pid ?? 0, "SIGKILL");
    const error = await inFlight;
    expect(error).toMatchObject({ code: "ENGINE_REQUEST" });
    expect(String(error)).toContain("the worker process was killed by SIGKILL while generating");
    const after = await engine.generate(request("again"));
    expect(Answer.safeParse(JSON.parse(after.text)).success, after.text).toBe(true);
    expect(engine.workerPid).not.toBe(pid);
  }, 60_000);

  it("three worker deaths in a row with no reply between them: ENGINE_DOWN, then and for every later request", async () => {
    const engine = llamacpp("crashing", endless, 1);
    const errors: unknown[] = [];
    for (let death = 1; death <= 3; death++) {
      await engine.load();
      const pid = engine.workerPid ?? 0;
      const inFlight = engine.generate(freeText(`long ${death}`)).catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 100));
      process.kill(pid, "SIGKILL");
      errors.push(await inFlight);
    }
    expect(errors.map((error) => (error as { code?: string }).code)).toEqual(["ENGINE_REQUEST", "ENGINE_REQUEST", "ENGINE_DOWN"]);
    expect(String(errors[2])).toContain("its worker process died 3 times in a row without a reply (last: was killed by SIGKILL)");
    await expect(engine.generate(request("after"))).rejects.toMatchObject({ code: "ENGINE_DOWN" });
  }, 60_000);

  it("abort rejects with the signal's reason; close rejects what waits and stops the worker", async () => {
    const engine = endlessEngine();
    await engine.generate(request("warm up"));
    const controller = new AbortController();
    const running = engine.generate(freeText("long", controller.signal));
    const queued = engine.generate(request("queued"));
    controller.abort(new Error("stop now"));
    await expect(running).rejects.toThrow("stop now");
    await expect(queued).resolves.toMatchObject({ finishReason: "stop" });
    const pid = engine.workerPid ?? 0;
    const waiting = [engine.generate(freeText("x")), engine.generate(request("y"))];
    const settled = Promise.allSettled(waiting);
    await engine.close();
    for (const result of await settled) expect(result).toMatchObject({ status: "rejected", reason: { code: "ABORTED" } });
    expect(() => process.kill(pid, 0)).toThrow();
  }, 60_000);

  it("defaults threads to 1 on 2 cores or fewer, half the cores above", () => {
    expect([1, 2, 3, 4, 16].map((cores) => defaultLlamaCppThreads(cores))).toEqual([1, 1, 1, 2, 8]);
  });
});

describe("llamacpp declarations", () => {
  it("reads threads, context_size and gpu from the engines YAML; other backends warn that they ignore them", () => {
    const [declaration] = parseEnginesYaml(`engines:\n  - { name: local, backend: llamacpp, model: ./m.gguf, threads: 2, context_size: 1024, gpu: false, concurrency: 3 }\n`);
    expect(declaration).toEqual({ name: "local", backend: "llamacpp", model: "./m.gguf", threads: 2, contextSize: 1024, gpu: false, concurrency: 3 });
    expect(() => parseEnginesYaml(`engines:\n  - { name: local, backend: llamacpp, model: m.gguf, threads: 0 }\n`)).toThrow("Expected `threads` to be an integer >= 1 (CPU threads), got `0`");
    const warnings: string[] = [];
    const remote = createEngine({ name: "remote", backend: "vllm_api", model: "m", threads: 2 }, { logger: { warn: (_fields, message) => warnings.push(message) } });
    void remote.close();
    expect(warnings).toEqual(["threads: honoured by llamacpp only; engine remote (vllm_api) ignores them"]);
  });

  it("--concurrency (the run's default of 256) does not become 256 sequences of a llamacpp engine", async () => {
    const plan = { nodes: [{ kind: "step", engineName: "tiny" }] } as unknown as ChainPlan;
    const created = createPlanEngines(plan, [{ name: "tiny", backend: "llamacpp", model }], { defaultConcurrency: 256 });
    expect(created.get("tiny")?.config.concurrency).toBeUndefined();
    await closeEngines(created);
  });
});
