/**
 * The circuit breaker (on by default): a run whose rows keep failing stops early and resumably,
 * naming the top error and a row that had it; the same command resumes once the cause is fixed;
 * `--circuit-breaker off` runs every row; a run with a few failures is not stopped.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readShards, runCli } from "../helpers/cli.js";

const chainFile = "test/fixtures/chains/broken-apply-chain.ts";
const rows = 300;
let work: string;
let input: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "breaker-"));
  input = join(work, "numbers.jsonl");
  writeFileSync(input, Array.from({ length: rows }, (_, n) => `${JSON.stringify({ n })}\n`).join(""));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function attempts(file: string): number[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter((line) => line !== "").map(Number);
}

interface Summary {
  status: string;
  complete: boolean;
  rows: { in: number; ok: number; failed: number };
}

function summary(out: string): Summary {
  return JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as Summary;
}

describe("circuit breaker", () => {
  it("stops a run whose every row fails, names the error and a row, and resumes once fixed", async () => {
    const out = join(work, "broken");
    const tried = join(work, "broken-attempts.txt");
    const args = ["run", chainFile, "-i", input, "-o", out, "--quiet", "--batch-size", "10"];
    const stopped = await runCli(args, { env: { BROKEN: "1", ATTEMPTS_FILE: tried } });
    expect(stopped.code, stopped.stderr).toBe(1);
    expect(stopped.stderr).toContain("CIRCUIT_OPEN");
    expect(stopped.stderr).toMatch(/top error: node `score` APPLY_FAILED/);
    // The sample's message and input are those of the row it names.
    const sample = /e\.g\. row (\d+), input: (\{.*\})/.exec(stopped.stderr);
    expect(sample, stopped.stderr).not.toBeNull();
    const [, rowId, excerpt] = sample as RegExpExecArray;
    expect(JSON.parse(excerpt as string)).toEqual({ n: Number(rowId) });
    expect(stopped.stderr).toContain(`cannot score row n=${rowId}: the scorer is missing`);
    expect(stopped.stdout).toContain("resume with:");
    const firstAttempts = attempts(tried);
    expect(firstAttempts.length).toBeGreaterThanOrEqual(100);
    expect(firstAttempts.length).toBeLessThan(200);
    const failed = readShards(out, "errors");
    expect(failed.length).toBeGreaterThanOrEqual(100);
    expect(summary(out)).toMatchObject({ status: "failed", complete: false });

    // Fixed: the same command resumes, redoing nothing already done.
    rmSync(tried);
    const resumed = await runCli(args, { env: { ATTEMPTS_FILE: tried } });
    expect(resumed.code, resumed.stderr).toBe(0);
    const failedIds = new Set(failed.map((record) => Number(record.row_id)));
    const redone = attempts(tried).filter((n) => failedIds.has(n));
    expect(redone).toEqual([]);
    expect(readShards(out, "errors")).toHaveLength(failed.length);
    expect(readShards(out, "flattened")).toHaveLength(rows - failed.length);
    expect(summary(out)).toMatchObject({ status: "complete", complete: true, rows: { in: rows, failed: failed.length } });

    // --retry-errors redoes the failed rows.
    const retried = await runCli([...args, "--retry-errors"]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(readShards(out, "errors")).toHaveLength(0);
    expect(readShards(out, "flattened")).toHaveLength(rows);
  }, 60_000);

  it("runs every row with --circuit-breaker off, and the summary tells a script rows failed", async () => {
    const out = join(work, "off");
    const result = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet", "--batch-size", "10", "--circuit-breaker", "off"], { env: { BROKEN: "1" } });
    expect(result.code, result.stderr).toBe(0);
    expect(readShards(out, "errors")).toHaveLength(rows);
    expect(summary(out)).toMatchObject({ status: "complete", complete: true, rows: { in: rows, ok: 0, failed: rows } });
  }, 60_000);

  it("does not stop a run where a fifth of the rows fail, unless tuned to", async () => {
    const out = join(work, "some");
    const env = { FAIL_EVERY: "5" };
    const result = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet", "--batch-size", "10"], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(summary(out)).toMatchObject({ status: "complete", complete: true, rows: { in: rows, ok: rows - rows / 5, failed: rows / 5 } });

    const tuned = await runCli(["run", chainFile, "-i", input, "-o", join(work, "tuned"), "--quiet", "--batch-size", "10", "--circuit-breaker", "20:0.1"], { env });
    expect(tuned.code, tuned.stderr).toBe(1);
    expect(tuned.stderr).toContain("CIRCUIT_OPEN");
  }, 60_000);

  it("refuses a malformed --circuit-breaker, naming the option and the value", async () => {
    for (const value of ["0:0.5", "100:1", "abc", "50:x"]) {
      const result = await runCli(["run", chainFile, "-i", input, "-o", join(work, "usage"), "--circuit-breaker", value]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`Expected \`--circuit-breaker\` to be off, on, or N:RATE`);
      expect(result.stderr).toContain(`got \`${value}\``);
    }
  }, 60_000);
});
