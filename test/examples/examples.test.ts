/**
 * Every example in examples/ runs with the real CLI: `inspect-dag` accepts it, and `run` against
 * the bundled simulator (behind a recording proxy, so the test sees each request a step sent)
 * leaves outputs that make sense row by row.
 */
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { readShards, runCli } from "../helpers/cli.js";
import { normaliseProduct, ProductAttributes } from "../../examples/product-extract/chain.js";
import { MIN_SCORE, summaryPrompt } from "../../examples/multi-doc-summary/chain.js";
import { chain as joinChain } from "../../examples/join-no-llm/chain.js";

const model = "meta-llama/Llama-3.1-8B-Instruct";
const judgeModel = "meta-llama/Llama-3.1-70B-Instruct";
const examples = ["translate-summarise", "product-extract", "multi-doc-summary", "join-no-llm"] as const;

interface RecordedRequest {
  model: string;
  step: string;
  system: string;
  user: string;
  body: Record<string, unknown>;
}

interface Recorder {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** A proxy in front of a simulator that keeps every chat request body it forwards. */
async function startRecorder(target: string): Promise<Recorder> {
  const requests: RecordedRequest[] = [];
  const forward = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (request.url?.endsWith("/chat/completions")) requests.push(recorded(JSON.parse(body.toString()) as Record<string, unknown>));
    const reply = await fetch(`${target}${request.url ?? "/"}`, {
      method: request.method ?? "GET",
      headers: { "content-type": request.headers["content-type"] ?? "application/json" },
      ...(body.length > 0 ? { body } : {}),
    });
    response.writeHead(reply.status, { "content-type": reply.headers.get("content-type") ?? "application/json" });
    response.end(Buffer.from(await reply.arrayBuffer()));
  };
  const server: Server = createServer((request, response) => {
    forward(request, response).catch((error: unknown) => response.destroy(error as Error));
  });
  await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolveClose) => server.close(() => resolveClose())),
  };
}

function recorded(body: Record<string, unknown>): RecordedRequest {
  const messages = body.messages as { role: string; content: string }[];
  const format = body.response_format as { json_schema: { name: string } };
  return {
    model: String(body.model),
    step: format.json_schema.name,
    system: messages.find((message) => message.role === "system")?.content ?? "",
    user: messages.find((message) => message.role === "user")?.content ?? "",
    body,
  };
}

function inputRows(name: string): Record<string, unknown>[] {
  return readFileSync(`examples/${name}/input.jsonl`, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** One node's shard records by row_id, checking each row appears once. */
function byRowId(records: Record<string, unknown>[]): Map<string, Record<string, unknown>> {
  const map = new Map(records.map((record) => [String(record.row_id), record]));
  expect(map.size).toBe(records.length);
  return map;
}

function sortedRowIds(records: Record<string, unknown>[]): string[] {
  return records.map((record) => String(record.row_id)).sort((a, b) => Number(a) - Number(b));
}

function rangeIds(count: number): string[] {
  return Array.from({ length: count }, (_, index) => String(index));
}

function readSummary(outDir: string): { status: string; rows: { in: number; ok: number; failed: number; filtered: number }; nodes: Record<string, { ok: number; filtered: number }> } {
  return JSON.parse(readFileSync(join(outDir, "summary.json"), "utf8")) as ReturnType<typeof readSummary>;
}

let simulator: Simulator;
let judgeSimulator: Simulator;
let recorder: Recorder;
let judgeRecorder: Recorder;
let work: string;

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, profile: "instant", model });
  judgeSimulator = await startSimulator({ port: 0, profile: "instant", model: judgeModel });
  recorder = await startRecorder(simulator.url);
  judgeRecorder = await startRecorder(judgeSimulator.url);
  work = mkdtempSync(join(tmpdir(), "examples-"));
});
afterAll(async () => {
  await Promise.all([recorder.close(), judgeRecorder.close()]);
  await Promise.all([simulator.close(), judgeSimulator.close()]);
  rmSync(work, { recursive: true, force: true });
});

async function runExample(name: string, endpoints: string[]): Promise<string> {
  const out = join(work, name);
  const args = ["run", `examples/${name}/chain.ts`, "-i", `examples/${name}/input.jsonl`, "-o", out, "--quiet"];
  for (const endpoint of endpoints) args.push("--endpoint", endpoint);
  const result = await runCli(args);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return out;
}

describe("examples", () => {
  it("every example passes inspect-dag", async () => {
    const results = await Promise.all(examples.map((name) => runCli(["inspect-dag", `examples/${name}/chain.ts`])));
    for (const [index, result] of results.entries()) {
      expect(result.stderr, examples[index]).toBe("");
      expect(result.code, examples[index]).toBe(0);
      expect(result.stdout).toContain("every template path and engine checked");
    }
    expect(results[0]?.stdout).toContain("branch fr → joins as {{fr.…}}");
    expect(results[1]?.stdout).toContain("branch title_fr (side branch)");
    expect(results[2]?.stdout).toContain("step judge [judge: meta-llama/Llama-3.1-70B-Instruct]");
    expect(results[3]?.stdout).toContain("apply neighbours (fan-out)");
  });

  it("translate-summarise: both joined translations reach the aggregate step of the same row", async () => {
    recorder.requests.length = 0;
    const out = await runExample("translate-summarise", [`llama3=${recorder.url}/v1`]);
    const inputs = inputRows("translate-summarise");
    const flattened = readShards(out, "flattened");
    expect(sortedRowIds(flattened)).toEqual(rangeIds(inputs.length));
    const french = byRowId(readShards(out, "translate_fr"));
    const spanish = byRowId(readShards(out, "translate_es"));
    const cleaned = byRowId(readShards(out, "clean"));

    const requests = recorder.requests;
    const userPrompts = (step: string): string[] => requests.filter((request) => request.step === step).map((request) => request.user).sort();
    const expected: Record<string, string[]> = { clean: [], translate_fr: [], translate_es: [], aggregate: [] };
    for (const record of flattened) {
      const rowId = String(record.row_id);
      const input = inputs[Number(rowId)] ?? {};
      expect(record).toMatchObject(input);
      for (const field of ["clean.title", "clean.text", "translate_fr.translated", "translate_es.translated", "aggregate.summary_fr", "aggregate.summary_es"]) {
        expect(typeof record[field], field).toBe("string");
      }
      expect(typeof record["aggregate.translations_agree"]).toBe("boolean");
      expect(record["translate_fr.translated"]).toBe(french.get(rowId)?.translated);
      expect(record["translate_es.translated"]).toBe(spanish.get(rowId)?.translated);
      expect(record).not.toHaveProperty("fr.translated");
      expect(Object.keys(record).some((key) => key.startsWith("summary."))).toBe(false);
      expected.clean?.push(`Page ${String(input.source)}:\n\n${String(input.raw)}`);
      const clean = cleaned.get(rowId) ?? {};
      expected.translate_fr?.push(`${String(clean.title)}\n\n${String(clean.text)}`);
      expected.translate_es?.push(`${String(clean.title)}\n\n${String(clean.text)}`);
      expected.aggregate?.push(`FR: ${String(record["translate_fr.translated"])}\nES: ${String(record["translate_es.translated"])}`);
    }
    for (const [step, prompts] of Object.entries(expected)) expect(userPrompts(step), step).toEqual(prompts.sort());

    const sampling = (step: string): Record<string, unknown> => {
      const body = requests.find((request) => request.step === step)?.body ?? {};
      return { temperature: body.temperature, top_p: body.top_p, max_tokens: body.max_tokens, seed: body.seed };
    };
    expect(sampling("clean")).toEqual({ temperature: 0, top_p: undefined, max_tokens: 512, seed: undefined });
    expect(sampling("translate_fr")).toEqual({ temperature: 0.3, top_p: 0.9, max_tokens: 768, seed: 7 });
    expect(sampling("aggregate")).toEqual({ temperature: 0, top_p: undefined, max_tokens: 256, seed: undefined });
    expect(requests.find((request) => request.step === "translate_es")?.system).toContain("into Spanish");
    expect(readSummary(out).rows).toEqual({ in: 24, ok: 24, failed: 0, filtered: 0 });
  });

  it("product-extract: typed attributes, integer cents, and a side branch written but not merged", async () => {
    recorder.requests.length = 0;
    const out = await runExample("product-extract", [`llama3=${recorder.url}/v1`]);
    const inputs = inputRows("product-extract");
    const extracted = byRowId(readShards(out, "extract"));
    const normalised = byRowId(readShards(out, "normalise"));
    const flattened = readShards(out, "flattened");
    expect(sortedRowIds(flattened)).toEqual(rangeIds(inputs.length));
    expect(extracted.size).toBe(inputs.length);

    let priced = 0;
    for (const [rowId, record] of extracted) {
      const { row_id: _rowId, ...output } = record;
      const attributes = ProductAttributes.parse(output);
      const sku = String(inputs[Number(rowId)]?.sku);
      const normal = normaliseProduct(attributes, sku);
      expect(normalised.get(rowId)).toEqual({ row_id: rowId, ...normal });
      if (attributes.price === null) expect(normal.price_cents).toBeNull();
      else {
        priced++;
        expect(Number.isInteger(normal.price_cents)).toBe(true);
        expect(normal.price_cents).toBe(Math.round(attributes.price.amount * 100));
        expect(normal.currency).toBe(attributes.price.currency);
      }
      expect(normal.colors.every((color) => color === color.toLowerCase())).toBe(true);
    }
    expect(priced).toBeGreaterThan(0);

    const titles = byRowId(readShards(out, "translate_title"));
    expect([...titles.keys()].sort()).toEqual(rangeIds(inputs.length).sort());
    for (const record of flattened) {
      expect(record["normalise.sku"]).toBe(inputs[Number(record.row_id)]?.sku);
      expect(Object.keys(record).filter((key) => key.startsWith("translate_title"))).toEqual([]);
      expect(typeof titles.get(String(record.row_id))?.title_fr).toBe("string");
    }
    const translated = recorder.requests.filter((request) => request.step === "translate_title").map((request) => request.user).sort();
    expect(translated).toEqual([...normalised.values()].map((record) => String(record.title)).sort());
    expect(readSummary(out).rows).toEqual({ in: 30, ok: 30, failed: 0, filtered: 0 });
  });

  it("multi-doc-summary: the judge runs on its own engine and model, low scores are filtered and counted", async () => {
    recorder.requests.length = 0;
    const out = await runExample("multi-doc-summary", [`llama3=${recorder.url}/v1`, `judge=${judgeRecorder.url}/v1`]);
    const inputs = inputRows("multi-doc-summary");
    const summaries = byRowId(readShards(out, "summarise"));
    const verdicts = byRowId(readShards(out, "judge"));
    expect(summaries.size).toBe(inputs.length);
    expect(verdicts.size).toBe(inputs.length);

    expect(recorder.requests.map((request) => `${request.step} ${request.model}`)).toEqual(inputs.map(() => `summarise ${model}`));
    expect(judgeRecorder.requests.map((request) => `${request.step} ${request.model}`)).toEqual(inputs.map(() => `judge ${judgeModel}`));
    const summaryPrompts = recorder.requests.map((request) => request.user).sort();
    expect(summaryPrompts).toEqual(inputs.map((input) => summaryPrompt({ ...input, chain_input: input })).sort());
    expect(summaryPrompts[0]).toContain("Document 1 (");

    const judgePrompts = new Set(judgeRecorder.requests.map((request) => request.user));
    const kept: string[] = [];
    for (const [rowId, verdict] of verdicts) {
      const input = inputs[Number(rowId)] ?? {};
      const summary = summaries.get(rowId) ?? {};
      const documentsJson = JSON.stringify(input.documents);
      expect([...judgePrompts].some((prompt) => prompt.includes(documentsJson) && prompt.includes(`Summary:\n${String(summary.text)}\n`))).toBe(true);
      if (Number(verdict.score) >= MIN_SCORE) kept.push(rowId);
    }
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(inputs.length);

    const flattened = readShards(out, "flattened");
    expect(sortedRowIds(flattened)).toEqual([...kept].sort((a, b) => Number(a) - Number(b)));
    for (const record of flattened) {
      const rowId = String(record.row_id);
      expect(record["keep_good.topic"]).toBe(inputs[Number(rowId)]?.topic);
      expect(record["keep_good.summary"]).toBe(summaries.get(rowId)?.text);
      expect(record["keep_good.score"]).toBe(verdicts.get(rowId)?.score);
    }
    expect(readShards(out, "keep_good")).toHaveLength(kept.length);
    expect(readShards(out, "errors")).toEqual([]);
    const summary = readSummary(out);
    expect(summary.rows).toEqual({ in: inputs.length, ok: kept.length, failed: 0, filtered: inputs.length - kept.length });
    expect(summary.nodes.keep_good).toMatchObject({ ok: kept.length, filtered: inputs.length - kept.length });
  });

  it("join-no-llm: exact joined values and fan-out children with no server", async () => {
    const out = await runExample("join-no-llm", []);
    const numbers = inputRows("join-no-llm").map((row) => Number(row.n));
    const combined = byRowId(readShards(out, "combine"));
    expect(combined.size).toBe(numbers.length);
    for (const [index, n] of numbers.entries()) {
      expect(combined.get(String(index))).toEqual({ row_id: String(index), n, sum: 2 * n, product: n * n - 1, spread: 2 });
    }
    const increments = byRowId(readShards(out, "increment"));
    const decrements = byRowId(readShards(out, "decrement"));
    expect([...increments].map(([rowId, record]) => record.value === (numbers[Number(rowId)] ?? Number.NaN) + 1).every(Boolean)).toBe(true);
    expect([...decrements].map(([rowId, record]) => record.value === (numbers[Number(rowId)] ?? Number.NaN) - 1).every(Boolean)).toBe(true);

    const flattened = readShards(out, "flattened");
    const expected = numbers.flatMap((n, index) =>
      [-1, 0, 1].map((offset, position) => ({
        row_id: `${index}.${position}`,
        n,
        "increment.value": n + 1,
        "decrement.value": n - 1,
        "combine.n": n,
        "combine.sum": 2 * n,
        "combine.product": n * n - 1,
        "combine.spread": 2,
        "neighbours.n": n,
        "neighbours.neighbour": n + offset,
        "neighbours.offset": offset,
      })),
    );
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>): number => String(a.row_id).localeCompare(String(b.row_id), "en", { numeric: true });
    expect([...flattened].sort(byId)).toEqual(expected.sort(byId));
    expect(readSummary(out).rows).toEqual({ in: numbers.length, ok: 3 * numbers.length, failed: 0, filtered: 0 });
  });

  it("join-no-llm: runs as a library with chain.run(), no CLI", async () => {
    const results = [];
    for await (const result of joinChain.run([{ n: 41 }, { n: -3 }])) results.push(result);
    const outputs = results.map((result) => (result.status === "ok" ? [result.rowId, result.output, result.outputs.combine] : [result.rowId, result.status]));
    expect(outputs.sort((a, b) => String(a[0]).localeCompare(String(b[0])))).toEqual([
      ["0.0", { n: 41, neighbour: 40, offset: -1 }, { n: 41, sum: 82, product: 1680, spread: 2 }],
      ["0.1", { n: 41, neighbour: 41, offset: 0 }, { n: 41, sum: 82, product: 1680, spread: 2 }],
      ["0.2", { n: 41, neighbour: 42, offset: 1 }, { n: 41, sum: 82, product: 1680, spread: 2 }],
      ["1.0", { n: -3, neighbour: -4, offset: -1 }, { n: -3, sum: -6, product: 8, spread: 2 }],
      ["1.1", { n: -3, neighbour: -3, offset: 0 }, { n: -3, sum: -6, product: 8, spread: 2 }],
      ["1.2", { n: -3, neighbour: -2, offset: 1 }, { n: -3, sum: -6, product: 8, spread: 2 }],
    ]);
  });
});
