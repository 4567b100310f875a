/**
 * The response cache and incremental reruns (docs/cache.md), against the simulator, which counts
 * the chat requests it answers: a changed last step sends only its own requests, a changed first
 * step recomputes everything, a step added at the end runs alone, a removed one's folder goes,
 * `--no-cache` still refuses a changed chain, `--fresh` empties OUTDIR's cache but not a shared
 * one, `--retry-errors` after fixing an apply works, and appended input rows are the only ones run.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, readShards, runCli, type CliResult } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";

const chainFile = "test/fixtures/chains/three-step-chain.ts";
const nodes = ["outline", "draft", "length", "polish"];
const rows = 40;
let work: string;
let input: string;
const simulators: Simulator[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "response-cache-"));
  input = join(work, "questions.jsonl");
  writeFileSync(input, questionLines(rows));
});
afterAll(async () => {
  await Promise.all(simulators.map((simulator) => simulator.close()));
  rmSync(work, { recursive: true, force: true });
});

type Run = (out: string, extra?: readonly string[], env?: Record<string, string>, source?: string) => Promise<CliResult & { requests: number }>;

/**
 * A simulator of the test's own (the tests run side by side, each counting its requests), and a
 * function that runs the chain against it and returns the result with the chat requests it sent.
 */
async function runner(): Promise<Run> {
  const simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model" });
  simulators.push(simulator);
  const chatRequests = (): number => simulator.stats().requests["/v1/chat/completions"] ?? 0;
  return async (out, extra = [], env = {}, source = input) => {
    const before = chatRequests();
    const result = await runCli(["run", chainFile, "-i", source, "-o", out, "--quiet", ...extra], { env: { SIM_URL: simulator.url, ...env } });
    return { ...result, requests: chatRequests() - before };
  };
}

function expectOk(result: CliResult, what: string): void {
  expect(result.code, `${what}: ${result.stderr}`).toBe(0);
}

/** Each row's output of one node, by row id. */
function outputs(out: string, node: string): Map<string, unknown> {
  return new Map(readShards(out, node).map((record) => [String(record.row_id), record]));
}

function summary(out: string): { cache: { hits: number; requests_saved: number; input_tokens_saved: number; output_tokens_saved: number }; rows: { ok: number; failed: number } } {
  return JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as ReturnType<typeof summary>;
}

describe.concurrent("a rerun after a chain change", () => {
  it("sends only the changed last step's requests, keeps the others' outputs, then adds and removes a step", async () => {
    const run = await runner();
    const out = join(work, "last-step");
    const first = await run(out);
    expectOk(first, "first run");
    expect(first.requests).toBe(3 * rows);
    const before = new Map(nodes.map((node) => [node, outputs(out, node)]));

    const changed = await run(out, [], { STEP3_PROMPT: "Make this {{length.words}}-word draft shine: {{draft.draft}}" });
    expectOk(changed, "rerun");
    expect(changed.requests, "only the changed step reaches the server").toBe(rows);
    expect(changed.stderr).toContain("node `polish` changed");
    expect(changed.stderr).toMatch(/recomputed: polish\n {2}served from the response cache: outline, draft/);
    checkExactlyOnce(out, nodes);
    for (const node of ["outline", "draft", "length"]) expect(outputs(out, node), `${node}/ changed`).toEqual(before.get(node));
    const polished = outputs(out, "polish");
    expect(polished.size).toBe(rows);
    const same = [...polished].filter(([row, record]) => JSON.stringify(record) === JSON.stringify(before.get("polish")?.get(row)));
    expect(same.length, "polish/ still holds the old step's outputs").toBeLessThan(rows / 4);
    expect(summary(out).cache).toMatchObject({ hits: 2 * rows, requests_saved: 2 * rows });
    expect(summary(out).cache.input_tokens_saved).toBeGreaterThan(0);

    const env = { STEP3_PROMPT: "Make this {{length.words}}-word draft shine: {{draft.draft}}" };
    const added = await run(out, [], { ...env, EXTRA_STEP: "1" });
    expectOk(added, "a step added at the end");
    expect(added.requests, "only the new step reaches the server").toBe(rows);
    expect(outputs(out, "review").size).toBe(rows);
    expect(outputs(out, "polish")).toEqual(polished);

    const removed = await run(out, [], env);
    expectOk(removed, "the step removed again");
    expect(removed.requests).toBe(0);
    expect(removed.stderr).toContain("removed (their folders go): review");
    expect(existsSync(join(out, "review")), "the removed node's folder is still there").toBe(false);
    expect(existsSync(join(out, "rerun.json"))).toBe(false);
    checkExactlyOnce(out, nodes);

    const inspected = await runCli(["inspect", out, "--json"]);
    expect((JSON.parse(inspected.stdout) as { cache: { hits: number } }).cache.hits).toBe(3 * rows);
  });

  it("recomputes everything when the first step changes", async () => {
    const run = await runner();
    const out = join(work, "first-step");
    expectOk(await run(out), "first run");
    const before = outputs(out, "outline");
    const changed = await run(out, [], { STEP1_PROMPT: "List the key points for: {{text}}" });
    expectOk(changed, "rerun");
    expect(changed.requests).toBe(3 * rows);
    expect(changed.stderr).toContain("recomputed: outline, draft, length, polish");
    checkExactlyOnce(out, nodes);
    expect(outputs(out, "outline")).not.toEqual(before);
    // Back to the first chain: every reply is in the cache now.
    const back = await run(out);
    expectOk(back, "the first chain again");
    expect(back.requests).toBe(0);
    expect(outputs(out, "outline")).toEqual(before);
  });

  it("is refused with --no-cache, and --fresh empties OUTDIR's cache but never a shared one", async () => {
    const run = await runner();
    const out = join(work, "no-cache");
    expectOk(await run(out), "first run");
    const refused = await run(out, ["--no-cache"], { STEP3_PROMPT: "Shine: {{draft.draft}}" });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("node `polish` changed");
    expect(refused.stderr).toContain("drop --no-cache");
    expect(refused.requests).toBe(0);

    const fresh = await run(out, ["--fresh"]);
    expectOk(fresh, "--fresh");
    expect(fresh.requests, "--fresh kept OUTDIR's cache").toBe(3 * rows);

    const shared = join(work, "shared-cache");
    expectOk(await run(join(work, "shared-a"), ["--cache", shared]), "first OUTDIR on a shared cache");
    expect(existsSync(join(shared, "cache.sqlite"))).toBe(true);
    expect(existsSync(join(work, "shared-a", "cache.sqlite"))).toBe(false);
    const other = await run(join(work, "shared-b"), ["--cache", shared, "--fresh"]);
    expectOk(other, "second OUTDIR on the shared cache");
    expect(other.requests, "the shared cache answered nothing").toBe(0);
    expect(outputs(join(work, "shared-b"), "polish")).toEqual(outputs(join(work, "shared-a"), "polish"));
  });

  it("keeps each row's own sample with temperature > 0 and no seed", async () => {
    const run = await runner();
    const sampled = join(work, "sampled.jsonl");
    // The same question twice: greedy steps share one reply, sampled ones keep one per row.
    writeFileSync(sampled, questionLines(1) + questionLines(1));
    const out = join(work, "sampled");
    const first = await run(out, ["--concurrency", "1"], { POLISH_TEMPERATURE: "0.7" }, sampled);
    expectOk(first, "first run");
    expect(first.requests, "greedy steps: one request for two equal rows; sampled: one each").toBe(2 + 2);
    const again = await run(out, [], { POLISH_TEMPERATURE: "0.7", STEP3_PROMPT: "Shine: {{draft.draft}}" }, sampled);
    expectOk(again, "rerun");
    expect(again.requests).toBe(2);
  });

  it("runs every failed row again with --retry-errors after an apply is fixed, from the cache", async () => {
    const run = await runner();
    const out = join(work, "apply-fix");
    const broken = await run(out, [], { LENGTH_BROKEN: "1" });
    expectOk(broken, "run with a broken apply");
    expect(summary(out).rows.failed).toBe(rows / 5);
    const fixed = await run(out, ["--retry-errors"]);
    expectOk(fixed, "--retry-errors after the fix");
    expect(fixed.stderr).toContain("node `length` changed");
    expect(fixed.requests, "only the failed rows' last step reaches the server").toBe(rows / 5);
    expect(summary(out).rows).toMatchObject({ ok: rows, failed: 0 });
    expect(readShards(out, "errors")).toEqual([]);
    checkExactlyOnce(out, nodes);
  });
});

describe.concurrent("an input that grew", () => {
  it("runs only the appended rows and keeps the earlier results", async () => {
    const run = await runner();
    const grown = join(work, "grown.jsonl");
    writeFileSync(grown, questionLines(20));
    const out = join(work, "grown");
    expectOk(await run(out, [], {}, grown), "first run");
    const before = outputs(out, "polish");
    appendFileSync(grown, questionLines(10, 20));
    const next = await run(out, [], {}, grown);
    expectOk(next, "run after the append");
    expect(next.stderr).toContain(`the input ${grown} grew`);
    expect(next.requests).toBe(3 * 10);
    checkExactlyOnce(out, nodes);
    const after = outputs(out, "polish");
    expect(after.size).toBe(30);
    for (const [row, record] of before) expect(after.get(row)).toEqual(record);
  });

  it("refuses a changed last line or changed bytes, naming the file", async () => {
    const run = await runner();
    const cut = join(work, "cut.jsonl");
    writeFileSync(cut, questionLines(5).trimEnd());
    const out = join(work, "cut");
    expectOk(await run(out, [], {}, cut), "first run");
    appendFileSync(cut, ` \n${questionLines(2, 5)}`);
    const extended = await run(out, [], {}, cut);
    expect(extended.code).toBe(2);
    expect(extended.stderr).toContain(`the input ${cut} changed`);

    const edited = join(work, "edited.jsonl");
    writeFileSync(edited, questionLines(5));
    const out2 = join(work, "edited");
    expectOk(await run(out2, [], {}, edited), "first run");
    writeFileSync(edited, questionLines(5).replace("Question number 0", "Question number X") + questionLines(2, 5));
    const changed = await run(out2, [], {}, edited);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain(`the input ${edited} changed`);
    expect(changed.requests).toBe(0);
  });
});
