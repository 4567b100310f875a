/**
 * Disk full: OUTDIR on a tiny tmpfs. The run must stop with a DISK error (not a crash, not error
 * records), and once the disk has room the same command must finish with every row exactly once.
 * Needs root to mount a tmpfs; skipped (and counted as skipped) elsewhere.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, runCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";

const chainFile = "test/fixtures/chains/qa-chain.ts";
let work: string;
let mountPoint: string;
let mounted = false;
let simulator: Simulator;

function tryMount(path: string, size: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", path], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "enospc-"));
  mountPoint = join(work, "disk");
  mkdirSync(mountPoint);
  mounted = process.getuid?.() === 0 && tryMount(mountPoint, "360k");
  simulator = await startSimulator({ port: 0, model: "sim-model", profile: "instant" });
});
afterAll(async () => {
  await simulator.close();
  if (mounted) execFileSync("umount", [mountPoint]);
  rmSync(work, { recursive: true, force: true });
});

describe("disk full", () => {
  it("stops cleanly on ENOSPC and resumes exactly once when there is room again", async (context) => {
    if (!mounted) context.skip();
    const input = join(work, "rows.jsonl");
    writeFileSync(input, questionLines(3000));
    const out = join(mountPoint, "out");
    const env = { SIM_URL: simulator.url };
    const full = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet", "--max-lines-per-file", "500"], { env });
    expect(full.code).toBe(1);
    expect(full.stderr).toMatch(/DISK|ENOSPC|LEDGER/);
    expect(full.stdout).toContain("resume with:");

    execFileSync("mount", ["-o", "remount,size=64m", mountPoint]);
    const resumed = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet", "--max-lines-per-file", "500"], { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    const sets = checkExactlyOnce(out, ["qa", "count", "keep", "split"]);
    const filtered = Array.from({ length: 3000 }, (_, i) => i).filter((i) => `Question number ${i}:`.includes("7:")).length;
    expect(sets.rootIds.size + filtered).toBe(3000);
  }, 60_000);
});
