/**
 * One process at a time holds an OUTDIR: a second `run` (or a second `runJob` in one process) is
 * refused before it touches a file, naming the holder, and a holder that died never blocks a resume.
 * The gate chain holds a run alive for as long as a test needs, with nothing timed.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { apply, Chain, isChainetteError, RunEvents, runJob } from "../../src/index.js";
import { readOutDirHolder } from "../../src/durability/outdir-lock.js";
import { runCli, startCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";
import { gatedRuns } from "../helpers/gated-runs.js";
import { lineCount, waitFor } from "../helpers/wait-for.js";

const rows = 200;
const workspace = gatedRuns("lock-", rows);
const gateFrom = 50;
const { gated, args } = workspace;

/** Every shard file of these folders and its bytes. */
function shardFiles(outDir: string, folders: readonly string[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const folder of folders) {
    const path = join(outDir, folder);
    if (!existsSync(path)) continue;
    for (const name of readdirSync(path)) files.set(`${folder}/${name}`, readFileSync(join(path, name), "utf8"));
  }
  return files;
}

describe("the OUTDIR lock", () => {
  it("refuses a second run at once, naming the holder, and the first completes with every row once", async () => {
    const out = join(workspace.work, "two-runs");
    const gate = join(workspace.work, "gate-two-runs");
    const first = startCli(args(out), { env: { GATE_FILE: gate, GATE_FROM: String(gateFrom) } });
    gated.push(first.child);
    // Rows below the gate are written; the rest wait, so the first run is alive until the gate opens.
    await waitFor(() => lineCount(join(out, "flattened", "000.jsonl")) === gateFrom, "the first run's open rows");
    const before = shardFiles(out, ["pass", "flattened", "errors"]);

    // Without a gate, a second run that got in would write every row at once.
    const second = await runCli(args(out));
    const fresh = await runCli(args(out, "--fresh"));
    expect(first.child.exitCode, "the first run ended before the refusals were checked").toBeNull();

    for (const refused of [second, fresh]) {
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain("OUTDIR_LOCKED");
      expect(refused.stderr).toContain(`pid ${first.child.pid}`);
      expect(refused.stderr).toContain("gate-chain.ts");
      expect(refused.stderr).not.toMatch(/\n\s+at /);
      expect(refused.stdout).not.toContain("resume with");
    }
    expect(shardFiles(out, ["pass", "flattened", "errors"]), "a refused run changed the shards").toEqual(before);
    expect(existsSync(join(out, "summary.json")), "a refused run wrote summary.json").toBe(false);
    expect(readOutDirHolder(out)).toMatchObject({ live: true, holder: { pid: first.child.pid } });

    writeFileSync(gate, "");
    const result = await first.done;
    expect(result.code, result.stderr).toBe(0);
    const outputs = checkExactlyOnce(out, ["pass"]);
    expect(outputs.rootIds.size).toBe(rows);
    expect(readOutDirHolder(out)).toEqual({ holder: undefined, live: false });
  }, 90_000);

  it("never blocks a resume after its holder was SIGKILLed", async () => {
    const out = join(workspace.work, "killed");
    const gate = join(workspace.work, "gate-killed");
    const first = startCli(args(out), { env: { GATE_FILE: gate, GATE_FROM: String(gateFrom) } });
    gated.push(first.child);
    await waitFor(() => lineCount(join(out, "flattened", "000.jsonl")) === gateFrom, "the run's open rows");
    expect(readOutDirHolder(out)).toMatchObject({ live: true, holder: { pid: first.child.pid } });
    first.child.kill("SIGKILL");
    expect((await first.done).signal).toBe("SIGKILL");
    // The dead holder's details stay behind; the kernel dropped its lock.
    expect(readOutDirHolder(out)).toMatchObject({ live: false, holder: { pid: first.child.pid } });

    const resumed = await runCli(args(out));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(checkExactlyOnce(out, ["pass"]).rootIds.size).toBe(rows);
    expect(readOutDirHolder(out)).toEqual({ holder: undefined, live: false });
  }, 90_000);

  it("refuses a second runJob on the same OUTDIR in the same process", async () => {
    const out = join(workspace.work, "in-process");
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let holding = true;
    const pass = apply(
      async (row: { n: number }) => {
        if (holding && row.n >= 5) await gate;
        return { n: row.n };
      },
      { id: "pass" },
    );
    const chain = new Chain({ name: "held", steps: [pass] });
    const job = (name: string): ReturnType<typeof runJob> => runJob({ chain, input: workspace.input, outDir: out, engines: [], events: new RunEvents(), invocation: [name], batchSize: 8 });

    const first = job("first-job");
    await waitFor(() => lineCount(join(out, "pass", "000.jsonl")) >= 5, "the first job's open rows");
    // A second job that got in would not wait on the gate, and would write every row again.
    holding = false;
    const refusal = await job("second-job").then(
      (result) => result,
      (error: unknown) => error,
    );
    expect(isChainetteError(refusal, "OUTDIR_LOCKED"), String(refusal)).toBe(true);
    expect((refusal as Error).message).toContain(`pid ${process.pid}`);
    expect((refusal as Error).message).toContain("first-job");
    expect(readOutDirHolder(out)).toMatchObject({ live: true, holder: { pid: process.pid, command: "first-job" } });

    open();
    expect((await first).status).toBe("complete");
    expect(checkExactlyOnce(out, ["pass"]).rootIds.size).toBe(rows);
    // Released: the next job on the OUTDIR runs (a resume with nothing left to do).
    const third = await job("third-job");
    expect(third.status).toBe("complete");
    expect(third.error).toBeUndefined();
    expect(checkExactlyOnce(out, ["pass"]).rootIds.size).toBe(rows);
  }, 60_000);
});
