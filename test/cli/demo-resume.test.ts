/**
 * The README's promise about `npm run demo`: press Ctrl-C halfway and run it again to see a resume.
 * The demo runs in a process group of its own, as in a terminal, and Ctrl-C is SIGINT to the whole
 * group: the demo and the run it started both get it, once.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ledger } from "../../src/durability/ledger.js";
import { repoRoot } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";

const questions = 3000;
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "demo-"));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

interface Demo {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/cli/demo.js` as its own process group; `interrupt` says when to press Ctrl-C. */
async function runDemo(outDir: string, options: { timeScale?: number; interrupt?: () => boolean } = {}): Promise<Demo> {
  const { timeScale, interrupt } = options;
  const child = spawn(process.execPath, [join(repoRoot, "dist/cli/demo.js")], {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CHAINETTE_DEMO_OUT: outDir, ...(timeScale === undefined ? {} : { CHAINETTE_DEMO_TIME_SCALE: String(timeScale) }) },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.on("close", (code) => resolveExit(code)));
  let running = true;
  void exited.then(() => (running = false));
  if (interrupt !== undefined) {
    while (running && !interrupt()) await sleep(20);
    if (running && child.pid !== undefined) process.kill(-child.pid, "SIGINT");
  }
  return { code: await exited, stdout, stderr };
}

function flattenedLines(outDir: string): number {
  const path = join(outDir, "flattened", "000.jsonl");
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").length - 1 : 0;
}

function sessionRows(outDir: string): number[] {
  const ledger = Ledger.open(join(outDir, "ledger.sqlite"), { readonly: true });
  try {
    return ledger.sessions().map((session) => session.rows);
  } finally {
    ledger.close();
  }
}

describe("npm run demo", () => {
  it("stops cleanly on one Ctrl-C and resumes when run again, each question answered once", async () => {
    const outDir = join(work, "demo");
    const first = await runDemo(outDir, { interrupt: () => flattenedLines(outDir) > 0 });
    expect(first.stderr).not.toMatch(/^\s+at /m);
    expect(first.stderr).not.toContain("abandoning");
    expect(first.code).toBe(130);
    expect(first.stdout).toMatch(/Stopped: [\d,]+ questions are done and saved in .*Run `npm run demo` again to resume/);
    const [stopped] = sessionRows(outDir);
    expect(stopped).toBeGreaterThan(0);
    expect(stopped).toBeLessThan(questions);

    const second = await runDemo(outDir, { timeScale: 4 });
    expect(second.stderr).not.toMatch(/^\s+at /m);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`Resuming the demo in ${outDir}`);
    expect(second.stdout).toContain("Done. Look at:");
    const rows = sessionRows(outDir);
    expect(rows).toEqual([stopped, questions - (stopped ?? 0)]);
    const summary = JSON.parse(readFileSync(join(outDir, "summary.json"), "utf8")) as { status: string; rows: { in: number } };
    expect(summary).toMatchObject({ status: "complete", rows: { in: questions } });
    const outputs = checkExactlyOnce(outDir, ["qa", "keep"]);
    expect(outputs.byFolder.get("qa")).toHaveLength(questions);
  });
});
