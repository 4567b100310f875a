/**
 * A job on a real Slurm (CI: .ci/setup-slurm.sh): examples/scale-out/slurm-array.sbatch, as the
 * docs give it, is submitted as a 4-task array against a simulator this test starts; one task's
 * process is SIGKILLed mid-run, that index is resubmitted alone, and `merge` then holds every row
 * exactly once. Skipped where Slurm is not installed, unless CHAINETTE_SLURM=1 (CI), where a
 * missing Slurm fails.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readOutDirHolder } from "../../src/durability/outdir-lock.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { cliPath, questionLines, readShards, repoRoot, runCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";
import { waitFor } from "../helpers/wait-for.js";

const required = process.env.CHAINETTE_SLURM === "1";
const installed = spawnSync("sbatch", ["--version"]).status === 0;
const script = join(repoRoot, "examples/scale-out/slurm-array.sbatch");
const rows = 120;
const shards = 4;

describe.skipIf(!installed && !required)("a Slurm job array", () => {
  let simulator: Simulator | undefined;
  let work = "";
  const submitted: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "slurm-"));
    writeFileSync(join(work, "questions.jsonl"), questionLines(rows));
    // Slow enough (two requests at a time, ~120 ms each: ~2 s a task) that a task is still running when it is killed.
    if (installed) simulator = await startSimulator({ port: 0, model: "sim-model", timeScale: 2 });
  });
  afterAll(async () => {
    for (const job of submitted) spawnSync("scancel", [job]);
    await simulator?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** Submits the docs' script; returns the job id. */
  function submit(array: string, env: Record<string, string> = {}): string {
    const id = execFileSync("sbatch", ["--parsable", `--array=${array}`, `--chdir=${repoRoot}`, `--output=${join(work, "task-%A_%a.log")}`, "--export=ALL", script], {
      env: {
        ...process.env,
        CHAIN: "test/fixtures/chains/qa-chain.ts",
        INPUT: join(work, "questions.jsonl"),
        OUTDIR: join(work, "out"),
        CHAINETTE: `${process.execPath} ${cliPath}`,
        ENGINE: "sim",
        ENDPOINT: `${simulator?.url ?? ""}/v1`,
        EXTRA_ARGS: "--concurrency 2 --commit-interval 50",
        ...env,
      },
      encoding: "utf8",
    }).trim().split(";")[0] ?? "";
    submitted.push(id);
    return id;
  }

  async function waitForJob(id: string): Promise<void> {
    await waitFor(() => execFileSync("squeue", ["-h", "-j", id, "-o", "%i"], { encoding: "utf8" }).trim() === "", `Slurm job ${id} to end`);
  }

  it("runs shards as array tasks, resumes a killed task resubmitted alone, and merges every row once", async () => {
    expect(installed, "CHAINETTE_SLURM=1 but sbatch is not installed (.ci/setup-slurm.sh)").toBe(true);
    const out = join(work, "out");
    const job = submit(`0-${shards - 1}`);
    const victim = join(out, "shards", "00001-of-00004");
    await waitFor(() => readShards(victim, "flattened").length >= 3 && readOutDirHolder(victim).live, "task 1 to commit its first rows");
    const { holder } = readOutDirHolder(victim);
    // --shard auto is recorded as the shard it resolved to: the resume command runs outside Slurm too.
    expect(holder?.command).toContain("--shard 1/4");
    process.kill(holder?.pid ?? 0, "SIGKILL");
    await waitForJob(job);

    const killed = await runCli(["inspect", out, "--json"]);
    const report = JSON.parse(killed.stdout) as { shards: { shard: string; state: string; rows: { done: number; total: number } }[] };
    expect(report.shards.map((shard) => shard.state)).toEqual(["complete", "killed", "complete", "complete"]);
    expect(report.shards[1]?.rows.done).toBeLessThan(report.shards[1]?.rows.total ?? 0);
    const refused = await runCli(["merge", out]);
    expect(refused.stderr).toContain("shard 1/4 is not complete");

    await waitForJob(submit("1", { SHARD_COUNT: String(shards) }));
    const merged = await runCli(["merge", out]);
    expect(merged.code, `${merged.stderr}\n${readFileSync(join(work, "task-" + job + "_1.log"), "utf8").slice(-2000)}`).toBe(0);
    const { rootIds } = checkExactlyOnce(out, ["qa", "words", "keep", "split"]);
    // Every row is in flattened/ or errors/ but those the chain's `keep` filters (questions "...7: ...").
    expect([...rootIds].map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: rows }, (_, n) => n).filter((n) => n % 10 !== 7));
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { rows: { in: number; filtered: number } };
    expect(summary.rows).toMatchObject({ in: rows, filtered: rows / 10 });
    const resumed = JSON.parse(readFileSync(join(victim, "summary.json"), "utf8")) as { sessions: number; complete: boolean };
    expect(resumed, "the resubmitted task resumed the killed one's run").toMatchObject({ sessions: 2, complete: true });
  });
});
