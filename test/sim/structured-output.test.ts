import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { chatBody, contentOf, postJson, schemaBody } from "./sim-client.js";
import { SCHEMA_CORPUS, schemaArbitrary } from "./schema-corpus.js";
import { validationErrors } from "./schema-validator.js";

let sim: Simulator;
let completions: string;

beforeAll(async () => {
  sim = await startSimulator({ profile: "instant" });
  completions = `${sim.url}/v1/chat/completions`;
});
afterAll(() => sim.close());

describe("structured output", () => {
  it.each(Object.entries(SCHEMA_CORPUS))("response_format json_schema: %s validates", async (_name, schema) => {
    for (let index = 0; index < 25; index++) {
      const content = contentOf(await postJson(completions, schemaBody(`question ${index}`, schema)));
      expect(validationErrors(schema, JSON.parse(content)), content).toBeUndefined();
    }
  });

  it("structured_outputs.json validates too", async () => {
    const schema = SCHEMA_CORPUS.nested ?? {};
    const content = contentOf(await postJson(completions, chatBody("q", { structured_outputs: { json: schema } })));
    expect(validationErrors(schema, JSON.parse(content))).toBeUndefined();
  });

  it("random schemas from the supported subset always give valid JSON (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(schemaArbitrary, fc.string({ maxLength: 20 }), async (schema, question) => {
        const content = contentOf(await postJson(completions, schemaBody(question, schema, { max_tokens: 4096 })));
        expect(validationErrors(schema, JSON.parse(content)), `${JSON.stringify(schema)} -> ${content}`).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it("ignores the removed guided_json field, like vLLM >= 0.12: the reply is unconstrained text", async () => {
    const schema = SCHEMA_CORPUS.flat ?? {};
    const content = contentOf(await postJson(completions, chatBody("q", { guided_json: schema })));
    expect(() => JSON.parse(content) as unknown).toThrow();
  });

  it("answers plain text without a schema", async () => {
    const content = contentOf(await postJson(completions, chatBody("tell me a story")));
    expect(content).toMatch(/^[A-Z][a-z ]+/);
    expect(() => JSON.parse(content) as unknown).toThrow();
  });

  it("is deterministic: same body, same content; another question or seed, other content", async () => {
    const schema = SCHEMA_CORPUS.nested ?? {};
    const first = contentOf(await postJson(completions, schemaBody("same", schema)));
    const again = contentOf(await postJson(completions, schemaBody("same", schema)));
    const other = contentOf(await postJson(completions, schemaBody("different", schema)));
    const seeded = contentOf(await postJson(completions, schemaBody("same", schema, { seed: 7 })));
    expect(again).toBe(first);
    expect(other).not.toBe(first);
    expect(seeded).not.toBe(first);
  });

  it("gives the same content in another process and on another simulator instance", async () => {
    const body = schemaBody("cross-process", SCHEMA_CORPUS.references);
    const here = contentOf(await postJson(completions, body));
    const { execFileSync } = await import("node:child_process");
    const script = `import { startSimulator } from "./src/sim/index.ts";
      const sim = await startSimulator({ profile: "instant" });
      const response = await fetch(sim.url + "/v1/chat/completions", { method: "POST", body: process.argv[1] });
      const reply = await response.json();
      process.stdout.write(reply.choices[0].message.content);
      await sim.close();`;
    const there = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, JSON.stringify(body)], { encoding: "utf8" });
    expect(there).toBe(here);
  });
});
