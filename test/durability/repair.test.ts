/**
 * `--repair`: a finished run whose committed shards were damaged afterwards (a byte flipped, a file
 * deleted, a file cut short) is refused by a plain resume, naming the file and --repair; with
 * --repair the run redoes exactly the rows those shards held and ends identical to an
 * uninterrupted run, folder by folder, with the same counts.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, runCli } from "../helpers/cli.js";
import { checkExactlyOnce, type OutputSets } from "../helpers/exactly-once.js";

const chainFile = "test/fixtures/chains/qa-chain.ts";
const nodes = ["qa", "count", "keep", "split"];
const rows = 300;
let simulator: Simulator;
let work: string;
let input: string;
let expected: OutputSets;
let expectedSummary: Summary;

interface Summary {
  rows: { in: number; ok: number; failed: number; filtered: number };
  nodes: Record<string, { ok: number; failed: number; filtered: number }>;
}

const args = (out: string, ...extra: string[]): string[] => ["run", chainFile, "-i", input, "-o", out, "--quiet", "--max-lines-per-file", "40", ...extra];
const env = (): Record<string, string> => ({ SIM_URL: simulator.url });

function counts(out: string): { rows: Summary["rows"]; nodes: Record<string, { ok: number; failed: number; filtered: number }> } {
  const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as Summary;
  const byNode = Object.fromEntries(Object.entries(summary.nodes).map(([node, stats]) => [node, { ok: stats.ok, failed: stats.failed, filtered: stats.filtered }]));
  return { rows: summary.rows, nodes: byNode };
}

/** A finished run in a new OUTDIR, checked equal to the reference before it is damaged. */
async function finishedRun(name: string): Promise<string> {
  const out = join(work, name);
  const run = await runCli(args(out), { env: env() });
  expect(run.code, run.stderr).toBe(0);
  expect(checkExactlyOnce(out, nodes).byFolder).toEqual(expected.byFolder);
  return out;
}

/** The root rows a shard holds lines of (read before it is damaged). */
function rootsOf(file: string): Set<string> {
  const roots = new Set<string>();
  for (const line of readFileSync(file, "utf8").split("\n")) if (line !== "") roots.add(String((JSON.parse(line) as { row_id: string }).row_id).split(".")[0] ?? "");
  return roots;
}

/** How many root rows the last session did. */
function lastSessionRows(out: string): number {
  const db = new Database(join(out, "ledger.sqlite"), { readonly: true });
  try {
    return (db.prepare("SELECT rows FROM sessions ORDER BY id DESC LIMIT 1").get() as { rows: number }).rows;
  } finally {
    db.close();
  }
}

/**
 * A plain resume is refused naming the file; --repair redoes exactly `roots` root rows (those the
 * damaged shards held, no more) and ends as the reference.
 */
async function expectRepaired(out: string, damagedFile: string, roots: ReadonlySet<string>): Promise<void> {
  const plain = await runCli(args(out), { env: env() });
  expect(plain.code).not.toBe(0);
  expect(plain.stderr).toContain(damagedFile);
  expect(plain.stderr).toContain("--repair");

  const repaired = await runCli(args(out, "--repair"), { env: env() });
  expect(repaired.code, repaired.stderr).toBe(0);
  expect(lastSessionRows(out)).toBe(roots.size);
  const actual = checkExactlyOnce(out, nodes);
  for (const folder of [...nodes, "flattened", "errors"]) {
    expect(actual.byFolder.get(folder), `${folder}/ differs from the uninterrupted run`).toEqual(expected.byFolder.get(folder));
  }
  expect(counts(out)).toEqual(expectedSummary);

  // The repaired run resumes as any other: nothing left to do, nothing changes.
  const again = await runCli(args(out), { env: env() });
  expect(again.code, again.stderr).toBe(0);
  expect(checkExactlyOnce(out, nodes).byFolder).toEqual(expected.byFolder);
  expect(counts(out)).toEqual(expectedSummary);
}

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, model: "sim-model", profile: "instant", seed: 3 });
  work = mkdtempSync(join(tmpdir(), "repair-"));
  input = join(work, "rows.jsonl");
  writeFileSync(input, questionLines(rows));
  const reference = join(work, "reference");
  const clean = await runCli(args(reference), { env: env() });
  expect(clean.code, clean.stderr).toBe(0);
  expected = checkExactlyOnce(reference, nodes);
  expectedSummary = counts(reference);
  // The chain filters and fans out, so the counts of redone rows cover every kind of leaf.
  expect(expectedSummary.rows.filtered).toBeGreaterThan(0);
  expect(expectedSummary.rows.ok).toBeGreaterThan(rows);
}, 60_000);
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

describe("--repair", () => {
  it("redoes the rows of a node shard with a flipped byte", async () => {
    const out = await finishedRun("flipped");
    const file = join(out, "qa", "003.jsonl");
    const roots = rootsOf(file);
    const bytes = readFileSync(file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    writeFileSync(file, bytes);
    await expectRepaired(out, file, roots);
  }, 60_000);

  it("redoes the rows of a deleted flattened/ shard", async () => {
    const out = await finishedRun("deleted");
    const file = join(out, "flattened", "002.jsonl");
    const roots = rootsOf(file);
    unlinkSync(file);
    await expectRepaired(out, file, roots);
  }, 60_000);

  it("redoes the rows of a shard cut short", async () => {
    const out = await finishedRun("truncated");
    const file = join(out, "split", "001.jsonl");
    const roots = rootsOf(file);
    truncateSync(file, Math.floor(statSync(file).size / 3));
    await expectRepaired(out, file, roots);
  }, 60_000);

  it("redoes the rows of several damaged shards of different folders at once", async () => {
    const out = await finishedRun("several");
    const last = readdirSync(join(out, "count")).filter((name) => name.endsWith(".jsonl")).sort().at(-1) ?? "";
    const files = [join(out, "count", last), join(out, "flattened", "000.jsonl"), join(out, "keep", "004.jsonl")];
    const roots = new Set(files.flatMap((file) => [...rootsOf(file)]));
    unlinkSync(files[0] ?? "");
    unlinkSync(files[1] ?? "");
    truncateSync(files[2] ?? "", 10);
    await expectRepaired(out, files[0] ?? "", roots);
  }, 60_000);

  it("refuses --repair on a Parquet run, and names the damaged shard with --fresh as the way out", async () => {
    const out = join(work, "parquet");
    const run = await runCli(args(out, "--format", "parquet"), { env: env() });
    expect(run.code, run.stderr).toBe(0);
    const file = join(out, "qa", "001.parquet");
    unlinkSync(file);
    const plain = await runCli(args(out, "--format", "parquet"), { env: env() });
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain(file);
    expect(plain.stderr).toContain("--fresh");
    const repaired = await runCli(args(out, "--format", "parquet", "--repair"), { env: env() });
    expect(repaired.code).not.toBe(0);
    expect(repaired.stderr).toContain("--repair works on --format jsonl runs only");
  }, 60_000);

  it("refuses a ledger from before schema v3, which does not know the rows of each shard", async () => {
    const out = await finishedRun("v2");
    const db = new Database(join(out, "ledger.sqlite"));
    db.exec("DROP TABLE shard_roots; DROP INDEX failures_root;");
    db.pragma("user_version = 2");
    db.close();
    unlinkSync(join(out, "qa", "001.jsonl"));
    const repaired = await runCli(args(out, "--repair"), { env: env() });
    expect(repaired.code).not.toBe(0);
    expect(repaired.stderr).toContain("schema v2");
    expect(repaired.stderr).toContain("--fresh");
  }, 60_000);
});
