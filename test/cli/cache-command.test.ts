/**
 * `chainette-stream cache DIR`: the response cache a real run filled on the simulator, described
 * (entries = the requests the run sent), pruned by age (nothing younger than the age goes; everything
 * older does, and the next run on the OUTDIR after a chain change sends those requests again), and
 * refused with exit 2 for a folder without a cache or an age it cannot read.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, runCli } from "../helpers/cli.js";

let work: string;
let simulator: Simulator;
const chatRequests = (): number => simulator.stats().requests["/v1/chat/completions"] ?? 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "cache-command-"));
  simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model" });
});
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

interface Described {
  path: string;
  entries: number;
  text_bytes: number;
  bytes: number;
  oldest_age_s: number | null;
  newest_age_s: number | null;
  pruned?: number;
  bytes_freed?: number;
}

async function describeCache(dir: string, extra: string[] = []): Promise<Described> {
  const result = await runCli(["cache", dir, "--json", ...extra]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Described;
}

describe("chainette-stream cache", () => {
  it("describes the cache a run filled, prunes by age, and a pruned reply is asked again", async () => {
    const input = join(work, "questions.jsonl");
    writeFileSync(input, questionLines(30));
    const out = join(work, "out");
    const run = (env: Record<string, string> = {}) => runCli(["run", "test/fixtures/chains/qa-chain.ts", "-i", input, "-o", out, "--quiet"], { env: { SIM_URL: simulator.url, ...env } });
    const before = chatRequests();
    expect((await run()).code).toBe(0);
    const sent = chatRequests() - before;
    expect(sent).toBeGreaterThan(0);

    const filled = await describeCache(out);
    expect(filled).toMatchObject({ path: join(out, "cache.sqlite"), entries: sent });
    expect(filled.text_bytes).toBeGreaterThan(0);
    expect(filled.bytes).toBeGreaterThan(filled.text_bytes);
    expect(filled.oldest_age_s).toBeGreaterThanOrEqual(0);

    const text = await runCli(["cache", out]);
    expect(text.stdout).toContain(`${sent} replies`);

    // Younger than an hour: nothing goes.
    expect(await describeCache(out, ["--prune-older-than", "1h"])).toMatchObject({ entries: sent, pruned: 0 });
    // Older than 0 s: everything goes, and a rerun after a chain change asks every reply again.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const pruned = await describeCache(out, ["--prune-older-than", "0s"]);
    expect(pruned).toMatchObject({ entries: 0, pruned: sent, oldest_age_s: null });
    const rerunBefore = chatRequests();
    const rerun = await run({ QA_PROMPT: "Answer: {{text}}" });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(chatRequests() - rerunBefore).toBe(sent);
  });

  it("refuses a folder without a cache and an age it cannot read, with exit 2", async () => {
    const empty = join(work, "empty");
    const missing = await runCli(["cache", empty]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("holds no response cache");
    const badAge = await runCli(["cache", work, "--prune-older-than", "a week"]);
    expect(badAge.code).toBe(2);
    expect(badAge.stderr).toContain("--prune-older-than");
  });
});
