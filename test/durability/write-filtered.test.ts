/**
 * `--write-filtered`: one record per filtered leaf in `filtered/`, committed like every other folder
 * (exactly once across SIGKILLs), and part of the run's identity (a resume that toggles it is refused).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, readShards, runCli, startCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";

const chainFile = "test/fixtures/chains/qa-chain.ts";
const nodes = ["qa", "count", "keep", "split"];
const rows = 1500;
/** qa-chain's `keep` filters the questions whose text contains "7:". */
const filteredRoots = Array.from({ length: rows }, (_, i) => i).filter((i) => `Question number ${i}:`.includes("7:"));
let simulator: Simulator;
let work: string;
let input: string;
let env: Record<string, string>;

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, model: "sim-model", timeScale: 10 });
  work = mkdtempSync(join(tmpdir(), "filtered-"));
  input = join(work, "questions.jsonl");
  writeFileSync(input, questionLines(rows));
  env = { SIM_URL: simulator.url };
});
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

const args = (out: string, extra: string[] = ["--write-filtered"]): string[] => ["run", chainFile, "-i", input, "-o", out, "--max-lines-per-file", "40", "--quiet", ...extra];

function filteredSet(out: string): string[] {
  const records = readShards(out, "filtered");
  const ids = records.map((record) => String(record.row_id));
  expect(new Set(ids).size, "a row twice in filtered/").toBe(ids.length);
  return records.map((record) => JSON.stringify(record)).sort();
}

describe("--write-filtered", () => {
  it("writes each filtered row once to filtered/ with its node and input, and refuses a resume that toggles it", async () => {
    const out = join(work, "plain");
    const result = await runCli(args(out), { env });
    expect(result.code, result.stderr).toBe(0);
    const records = readShards(out, "filtered");
    expect(records.map((record) => Number(record.row_id)).sort((a, b) => a - b)).toEqual(filteredRoots);
    expect(records[0]).toEqual({ row_id: "7", node: "keep", input: { text: "Question number 7: why is 7 interesting?" } });
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { rows: { filtered: number } };
    expect(summary.rows.filtered).toBe(filteredRoots.length);
    const finished = checkExactlyOnce(out, nodes).rootIds;
    for (const root of filteredRoots) expect(finished.has(String(root))).toBe(false);

    const shardsBefore = readdirSync(join(out, "filtered")).sort();
    // Refused without a response cache (with one, a rerun: docs/cache.md).
    const off = await runCli([...args(out, []), "--no-cache"], { env });
    expect(off.code).toBe(2);
    expect(off.stderr).toContain("--write-filtered is off now and was on");
    expect(readdirSync(join(out, "filtered")).sort()).toEqual(shardsBefore);

    const without = join(work, "without");
    expect((await runCli(args(without, []), { env })).code).toBe(0);
    expect(readdirSync(without)).not.toContain("filtered");
    const on = await runCli([...args(without), "--no-cache"], { env });
    expect(on.code).toBe(2);
    expect(on.stderr).toContain("--write-filtered is on now and was off");
  }, 60_000);

  it("keeps filtered/ exactly once across SIGKILLs and resumes", async () => {
    const reference = join(work, "reference");
    const started = performance.now();
    expect((await runCli(args(reference), { env })).code).toBe(0);
    const cleanMs = performance.now() - started;
    const expected = filteredSet(reference);
    expect(expected).toHaveLength(filteredRoots.length);

    const out = join(work, "killed");
    let seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
    const seedUsed = seed;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    let kills = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      const { child, done } = startCli(args(out), { env });
      const timer = kills < 3 ? setTimeout(() => child.kill("SIGKILL"), Math.floor(cleanMs * (0.2 + random() * 0.5))) : undefined;
      const result = await done;
      clearTimeout(timer);
      if (result.signal === "SIGKILL") {
        kills++;
        continue;
      }
      expect(result.code, result.stderr).toBe(0);
      break;
    }
    expect(kills, `seed ${seedUsed}`).toBeGreaterThanOrEqual(1);
    expect(filteredSet(out), `filtered/ differs from the uninterrupted run (seed ${seedUsed})`).toEqual(expected);
    const actual = checkExactlyOnce(out, nodes);
    const clean = checkExactlyOnce(reference, nodes);
    for (const folder of [...nodes, "flattened", "errors"]) expect(actual.byFolder.get(folder), folder).toEqual(clean.byFolder.get(folder));
  }, 120_000);

  it("--repair of a deleted filtered/ shard redoes its rows: filtered/ and the counts end as before", async () => {
    const out = join(work, "repair");
    expect((await runCli(args(out), { env })).code).toBe(0);
    const expected = filteredSet(out);
    const summaryOf = (): { rows: unknown; nodes: Record<string, { ok: number; failed: number; filtered: number }> } => JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { rows: unknown; nodes: Record<string, { ok: number; failed: number; filtered: number }> };
    const before = summaryOf();
    unlinkSync(join(out, "filtered", "000.jsonl"));
    const repaired = await runCli(args(out, ["--write-filtered", "--repair"]), { env });
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(filteredSet(out)).toEqual(expected);
    const after = summaryOf();
    expect(after.rows).toEqual(before.rows);
    expect(Object.keys(after.nodes).sort()).toEqual(nodes.slice().sort());
    for (const node of nodes) expect({ node, ok: after.nodes[node]?.ok, filtered: after.nodes[node]?.filtered }).toEqual({ node, ok: before.nodes[node]?.ok, filtered: before.nodes[node]?.filtered });
  }, 60_000);
});
