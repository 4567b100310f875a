/**
 * Inputs that can be read only once, front to back: `/dev/stdin` given as a path (what
 * `-i <(zcat rows.jsonl.gz)` hands over too), and named pipes. They are read like stdin: no head
 * sniffing, no byte offsets, no background line count, and a resume counts lines to its watermark.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliPath, readShards, repoRoot, runCli } from "../helpers/cli.js";

const work = mkdtempSync(join(tmpdir(), "pipe-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `cat FILE | chainette-stream ARGS`: the CLI's standard input is a real pipe (Node's own child stdin is a socket). */
function runFromPipe(file: string, args: readonly string[], env: Record<string, string> = {}): { code: number | null; stderr: string } {
  const result = spawnSync("sh", ["-c", 'cat "$INPUT" | "$NODE" "$CLI" "$@"', "sh", ...args], {
    cwd: repoRoot,
    env: { ...process.env, INPUT: file, NODE: process.execPath, CLI: cliPath, ...env },
    encoding: "utf8",
  });
  return { code: result.status, stderr: result.stderr };
}

const lines = (count: number): string => Array.from({ length: count }, (_, n) => `${JSON.stringify({ n, text: `row ${n}` })}\n`).join("");

describe("an input that is a pipe", () => {
  it("reads JSONL from /dev/stdin given as a path, and resumes from it by counting lines", () => {
    const out = join(work, "stdin-path");
    const input = join(work, "numbers.jsonl");
    writeFileSync(input, lines(40));
    const chain = "test/fixtures/chains/fanout-partial-chain.ts";
    const first = runFromPipe(input, ["run", chain, "-i", "/dev/stdin", "-o", out, "--quiet"], { FAIL_FROM: "20" });
    expect(first.code, first.stderr).toBe(0);
    expect(readShards(out, "errors")).toHaveLength(20);

    // The retry's watermark is row 20: the second read of the pipe counts its way past rows 0-19.
    const retried = runFromPipe(input, ["run", chain, "-i", "/dev/stdin", "-o", out, "--quiet", "--retry-errors"]);
    expect(retried.code, retried.stderr).toBe(0);
    const flattened = readShards(out, "flattened");
    expect(flattened).toHaveLength(80);
    expect(new Set(flattened.map((record) => record.row_id)).size).toBe(80);
    expect(flattened.find((record) => record.row_id === "39.2")).toMatchObject({ n: 39, text: "row 39", "check.doubled": 78 });
  }, 60_000);

  it("reads a named pipe as JSONL, and refuses a Parquet one with a clear error", async () => {
    const fifo = join(work, "rows.fifo");
    execFileSync("mkfifo", [fifo]);
    const out = join(work, "fifo");
    const writer = runCli(["run", "test/fixtures/chains/copy-chain.ts", "-i", fifo, "-o", out, "--quiet"]);
    execFileSync("sh", ["-c", `cat > '${fifo}'`], { input: lines(25) });
    const result = await writer;
    expect(result.code, result.stderr).toBe(0);
    expect(readShards(out, "copy").map((record) => record.n)).toEqual(Array.from({ length: 25 }, (_, n) => n));

    const parquetFifo = join(work, "rows.parquet");
    execFileSync("mkfifo", [parquetFifo]);
    const refused = await runCli(["run", "test/fixtures/chains/copy-chain.ts", "-i", parquetFifo, "-o", join(work, "pq"), "--quiet"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("is not a regular file");
  }, 60_000);
});
