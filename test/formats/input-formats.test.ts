/**
 * Every Hugging Face fixture and every text format read end to end through `chainette-stream run`
 * (an apply-only chain that copies the input row into `copy/`), checked against what the files
 * hold as an independent reader (DuckDB, apache-arrow) or the test's own data sees it.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tableFromIPC } from "apache-arrow";
import { afterAll, describe, expect, it } from "vitest";
import { readShards, runCli } from "../helpers/cli.js";
import { arrowFixture, byRowId, hfFixtures, hubRows } from "./format-helpers.js";

const chainFile = "test/fixtures/chains/copy-chain.ts";
const work = mkdtempSync(join(tmpdir(), "formats-in-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the copy chain and returns `copy/` without row_id, sorted by row_id, after checking the ids. */
async function copyRun(name: string, input: string, extra: readonly string[] = []): Promise<Record<string, unknown>[]> {
  const out = join(work, name);
  const result = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet", ...extra]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const records = byRowId(readShards(out, "copy"));
  expect(records.map((record) => record.row_id)).toEqual(records.map((_, index) => String(index)));
  expect(byRowId(readShards(out, "flattened")).map((record) => record.row_id)).toEqual(records.map((record) => record.row_id));
  return records.map(({ row_id: _rowId, ...rest }) => rest);
}

describe("inputs through the CLI", () => {
  it("reads the 3-shard ZSTD hub Parquet folder: 139 rows, values equal to DuckDB's", async () => {
    const rows = await copyRun("hub", hfFixtures, ["--max-lines-per-file", "50"]);
    expect(rows).toHaveLength(139);
    expect(rows).toEqual(await hubRows());
    expect(typeof rows[0]?.adi_score).toBe("number");
  });

  it("reads the save_to_disk Arrow folder: 2872 rows, int64 labels as numbers", async () => {
    const rows = await copyRun("arrow", arrowFixture);
    const table = tableFromIPC(readFileSync(join(arrowFixture, "data-00000-of-00001.arrow")));
    const texts = table.getChild("text")?.toArray() as string[];
    const labels = Array.from(table.getChild("label")?.toArray() as BigInt64Array, Number);
    expect(rows).toHaveLength(2872);
    expect(rows).toEqual(texts.map((text, index) => ({ text, label: labels[index] })));
    expect(new Set(rows.map((row) => typeof row.label))).toEqual(new Set(["number"]));
  });

  it("renames and selects columns with --columns and stops at --limit", async () => {
    const rows = await copyRun("columns", hfFixtures, ["--columns", "question=prompt,score=adi_score,model", "--limit", "60"]);
    const hub = (await hubRows()).slice(0, 60);
    expect(rows).toEqual(hub.map((row) => ({ question: row.prompt, score: row.adi_score, model: row.model })));
  });

  it("reads CSV (strings, quoted commas and newlines) and a JSON array (nested values)", async () => {
    const csv = join(work, "people.csv");
    writeFileSync(csv, 'name,note,age\n"Ada, Countess","line one\nline two",36\nGrace,"say ""hi""",85\n\nLinus,,54\n');
    expect(await copyRun("csv", csv)).toEqual([
      { name: "Ada, Countess", note: "line one\nline two", age: "36" },
      { name: "Grace", note: 'say "hi"', age: "85" },
      { name: "Linus", note: "", age: "54" },
    ]);
    const array = Array.from({ length: 25 }, (_, index) => ({ id: index, tags: ["a", `t${index}`], meta: { even: index % 2 === 0, score: index / 4 }, missing: null }));
    const json = join(work, "items.json");
    writeFileSync(json, JSON.stringify(array, null, 2));
    expect(await copyRun("json", json, ["--limit", "20"])).toEqual(array.slice(0, 20));
  });

  it("exits 2 with one clear message naming an unreadable input, and writes no rows", async () => {
    const truncated = join(work, "truncated.parquet");
    const source = join(hfFixtures, "train-00000-of-00001.parquet");
    const head = Buffer.alloc(4096);
    const fd = openSync(source, "r");
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    writeFileSync(truncated, head);
    const out = join(work, "unreadable");
    const result = await runCli(["run", chainFile, "-i", truncated, "-o", out, "--quiet"]);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(truncated);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(readShards(out, "copy")).toEqual([]);

    const missing = await runCli(["run", chainFile, "-i", join(work, "nope.csv"), "-o", join(work, "missing"), "--quiet"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain("nope.csv");
  });
});
