/**
 * A job run as shards through the real CLI, then `merge`: merge refuses, naming the shard, while one
 * is missing, running or killed, or of another job or split; two tasks given one index cannot both
 * write; `inspect` reports across the shards while they run; and the merged OUTDIR holds every row
 * once, in global order, like a one-machine run, also when merge is run again after a merge that
 * was SIGKILLed at any of its steps. The gate chain holds a shard alive for as long as a test needs, with nothing timed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { parquetWriteBuffer } from "hyparquet-writer";
import { parseAllDocuments } from "yaml";
import { Ledger } from "../../src/durability/ledger.js";
import { countRowsInRange, jsonlByteRange } from "../../src/io/jsonl-byte-ranges.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, readShards, repoRoot, runCli, startCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";
import { gatedRuns } from "../helpers/gated-runs.js";
import { waitFor } from "../helpers/wait-for.js";

const rows = 120;
const workspace = gatedRuns("shards-", rows);
const { gated } = workspace;

const shardArgs = (out: string, shard: string, ...extra: string[]): string[] => [...workspace.args(out), "--shard", shard, "--max-lines-per-file", "16", ...extra];

/** Rows the ledger of a run folder has committed (0 before it exists, and while the run creates it). */
function committedRows(folder: string): number {
  let ledger: Ledger;
  try {
    ledger = Ledger.open(join(folder, "ledger.sqlite"), { readonly: true });
  } catch {
    return 0;
  }
  try {
    return ledger.done().count();
  } finally {
    ledger.close();
  }
}

/** Every file under these folders of OUTDIR with its bytes, by relative path. */
function snapshot(outDir: string, entries: readonly string[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of entries) {
    const path = join(outDir, entry);
    if (!existsSync(path)) continue;
    const names = entry.endsWith(".json") ? [""] : readdirSync(path);
    for (const name of names) {
      const file = name === "" ? path : join(path, name);
      const text = readFileSync(file, "utf8");
      files.set(name === "" ? entry : `${entry}/${name}`, entry === "summary.json" ? text.replace(/"updated_at": "[^"]*"/, "") : text);
    }
  }
  return files;
}

describe("sharded runs and merge", () => {
  it("refuses to merge until every shard is complete, keeps one index to one task, and merges every row once in order", async () => {
    const out = join(workspace.work, "job");
    for (const shard of ["0/3", "2/3"]) {
      const result = await runCli(shardArgs(out, shard));
      expect(result.code, result.stderr).toBe(0);
    }
    const missing = await runCli(["merge", out]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("SHARDS_INCOMPLETE");
    expect(missing.stderr).toContain("shard 1/3 is missing");
    expect(missing.stderr).toContain("--shard 1/3");

    // Shard 1/3 holds rows 42..81 (its bytes start at 1090/3, on row 42's line): the gate holds
    // those from 52 on, so the task stays alive.
    const gate = join(workspace.work, "gate");
    const held = startCli(shardArgs(out, "1/3"), { env: { GATE_FILE: gate, GATE_FROM: "52" } });
    gated.push(held.child);
    const shardFolder = join(out, "shards", "00001-of-00003");
    await waitFor(() => committedRows(shardFolder) === 10, "shard 1/3's rows below the gate, committed");

    const twin = await runCli(shardArgs(out, "1/3"));
    expect(twin.code, "a second task with the same index got in").toBe(2);
    expect(twin.stderr).toContain("OUTDIR_LOCKED");
    expect(twin.stderr).toContain(`pid ${held.child.pid}`);

    const live = await runCli(["inspect", out]);
    expect(live.code, live.stderr).toBe(0);
    expect(live.stdout).toContain("3 shard(s), 2 complete");
    expect(live.stdout).toMatch(new RegExp(`1/3 running: 10 of 40 rows .*running as pid ${held.child.pid}`));
    expect(live.stdout).toContain("total: 90 of 120 rows done");
    const running = await runCli(["merge", out]);
    expect(running.stderr).toContain("shard 1/3 is running");

    held.child.kill("SIGKILL");
    await held.done;
    const killed = await runCli(["merge", out]);
    expect(killed.stderr).toContain("shard 1/3 is not complete: it did not finish (killed or still running)");
    expect(existsSync(join(out, "flattened")), "a refused merge wrote flattened/").toBe(false);

    // The scheduler requeues the task: the same index resumes from its ledger.
    const requeued = await runCli(shardArgs(out, "1/3"));
    expect(requeued.code, requeued.stderr).toBe(0);
    const merged = await runCli(["merge", out]);
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout).toContain("merged 3 shard(s)");

    const flattened = readShards(out, "flattened");
    expect(flattened.map((record) => record.row_id), "every row once, in global order").toEqual(Array.from({ length: rows }, (_, n) => String(n)));
    expect(flattened.every((record) => record.n === Number(record.row_id))).toBe(true);
    expect(readShards(out, "pass").map((record) => record.row_id)).toEqual(Array.from({ length: rows }, (_, n) => String(n)));
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { complete: boolean; rows: { in: number; ok: number }; shards: number; nodes: Record<string, { ok: number }> };
    expect(summary).toMatchObject({ complete: true, rows: { in: rows, ok: rows }, shards: 3, nodes: { pass: { ok: rows } } });

    // The same records as one machine's run of the whole input.
    const single = join(workspace.work, "single");
    expect((await runCli([...workspace.args(single), "--max-lines-per-file", "16"])).code).toBe(0);
    for (const folder of ["flattened", "pass"]) expect(readShards(out, folder)).toEqual(readShards(single, folder));

    // Merging again, and after a merge cut short (no summary.json, a folder not renamed in, staging left), gives the same OUTDIR.
    const entries = ["flattened", "pass", "errors", "graph.json", "summary.json"];
    const first = snapshot(out, entries);
    expect((await runCli(["merge", out])).code).toBe(0);
    expect(snapshot(out, entries)).toEqual(first);
    rmSync(join(out, "summary.json"));
    rmSync(join(out, "pass"), { recursive: true });
    mkdirSync(join(out, ".merge", "flattened"), { recursive: true });
    writeFileSync(join(out, ".merge", "flattened", "00000-000000.jsonl"), "torn");
    const again = await runCli(["merge", out]);
    expect(again.code, again.stderr).toBe(0);
    expect(snapshot(out, entries)).toEqual(first);
    expect(existsSync(join(out, ".merge"))).toBe(false);
    // Merges SIGKILLed at each step (links made; one, two, then all four of pass/, flattened/, errors/
    // and graph.json renamed in, summary.json not written) leave no summary.json, and the next merge completes them.
    for (const point of ["merge-linked:1", "merge-swapped:1", "merge-swapped:2", "merge-swapped:4"]) {
      const killed = await runCli(["merge", out], { env: { CHAINETTE_CRASH_AT: point } });
      expect(killed.signal, `merge did not reach ${point}`).toBe("SIGKILL");
      expect(existsSync(join(out, "summary.json")), `a merge killed at ${point} left summary.json`).toBe(false);
      const rerun = await runCli(["merge", out]);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(snapshot(out, entries), `merge after a kill at ${point}`).toEqual(first);
    }

    const after = await runCli(["inspect", out]);
    expect(after.stdout).toContain("3 shard(s), 3 complete, merged");
  });

  it("refuses shards of another job or another split, naming them", async () => {
    const out = join(workspace.work, "mixed");
    // The same shard count and input, but shard 1's chain has its node renamed: another job.
    const [first, other] = await Promise.all([runCli(shardArgs(out, "0/2")), runCli(shardArgs(out, "1/2"), { env: { GATE_NODE: "renamed" } })]);
    expect(first.code, first.stderr).toBe(0);
    expect(other.code, other.stderr).toBe(0);
    const refused = await runCli(["merge", out]);
    expect(refused.stderr).toContain("shard 1/2 is not of the same job as shard 0/2");
    expect(refused.stderr).toContain("node `pass` was removed");

    // A resume of a shard with another chain is refused like any run's when nothing can be reused
    // (--no-cache); with the response cache it would be a rerun of that shard.
    const changed = await runCli([...shardArgs(out, "1/2"), "--no-cache"]);
    expect(changed.stderr).toContain("RUN_CHANGED");

    rmSync(join(out, "shards", "00001-of-00002"), { recursive: true });
    const redone = await Promise.all([runCli(shardArgs(out, "1/2")), runCli(shardArgs(out, "0/3"))]);
    expect(redone.map((result) => result.code)).toEqual([0, 0]);
    const splits = await runCli(["merge", out]);
    expect(splits.stderr).toContain("shards of 2 different splits (N = 2, 3)");
  });

  it("shares row counts between shards: each publishes its own range's, and one for another file is recounted", async () => {
    const out = join(workspace.work, "counts");
    const counts = join(out, "shards", "row-counts");
    const size = statSync(workspace.input).size;
    // Shard 0/2's range as the split finds it; a count published for another file of the same size.
    const first = await jsonlByteRange(workspace.input, size, 0, 2);
    mkdirSync(counts, { recursive: true });
    writeFileSync(join(counts, `${first.start}-${first.end}.json`), JSON.stringify({ size, sample: "another file", start: first.start, end: first.end, rows: 5 }));
    const second = await runCli(shardArgs(out, "1/2"));
    expect(second.code, second.stderr).toBe(0);
    const expectedFirst = await countRowsInRange(workspace.input, first);
    expect(readShards(join(out, "shards", "00001-of-00002"), "flattened")[0]?.row_id).toBe(String(expectedFirst));
    const published = readdirSync(counts).map((name) => JSON.parse(readFileSync(join(counts, name), "utf8")) as { rows: number; sample: string });
    expect(published).toHaveLength(2);
    expect(published.map((count) => count.rows).reduce((sum, rows) => sum + rows, 0)).toBe(rows);
    expect(published.some((count) => count.sample === "another file")).toBe(false);
  });

  it("refuses --shard for an input it cannot split, and --limit with --shard", async () => {
    const gz = join(workspace.work, "rows.jsonl.gz");
    const { gzipSync } = await import("node:zlib");
    writeFileSync(gz, gzipSync('{"n":1}\n'));
    const out = join(workspace.work, "gz");
    const result = await runCli(["run", "test/fixtures/chains/gate-chain.ts", "-i", gz, "-o", out, "--shard", "0/2", "--quiet"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--shard splits a plain .jsonl file, Parquet or Arrow input");
    const limited = await runCli(shardArgs(join(workspace.work, "limited"), "0/2", "--limit", "5"));
    expect(limited.code).toBe(2);
    expect(limited.stderr).toContain("--limit and --shard do not go together");
  });

  it("splits a Parquet folder by row groups and merges Parquet shards in global row order", async () => {
    const folder = join(workspace.work, "parquet-in");
    mkdirSync(folder);
    let next = 0;
    for (const [name, size] of [["a.parquet", 25], ["b.parquet", 15]] as const) {
      const data = Array.from({ length: size }, () => next++);
      writeFileSync(join(folder, name), Buffer.from(parquetWriteBuffer({ columnData: [{ name: "n", data, type: "INT32" }], rowGroupSize: 10 })));
    }
    const out = join(workspace.work, "parquet-out");
    const runs = await Promise.all(["0/3", "1/3", "2/3"].map((shard) => runCli(["run", "test/fixtures/chains/gate-chain.ts", "-i", folder, "-o", out, "--quiet", "--format", "parquet", "--max-lines-per-file", "4", "--shard", shard])));
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const merged = await runCli(["merge", out, "--json"]);
    expect(merged.code, merged.stderr).toBe(0);
    expect(JSON.parse(merged.stdout)).toMatchObject({ complete: true, shards: 3, rows: { in: 40, ok: 40 } });
    const ids: unknown[] = [];
    for (const name of readdirSync(join(out, "flattened")).sort()) {
      const file = await asyncBufferFromFile(join(out, "flattened", name));
      for (const record of await parquetReadObjects({ file, compressors })) ids.push(record.row_id);
    }
    expect(ids, "every row once, and sorted file names are global row order").toEqual(Array.from({ length: 40 }, (_, n) => String(n)));
  });

  describe("the Kubernetes Indexed Job manifest", () => {
    let simulator: Simulator | undefined;
    afterAll(async () => simulator?.close());

    interface Manifest {
      kind: string;
      spec: { completionMode: string; completions: number; parallelism: number; template: { spec: { containers: { command: string[]; env: { name: string; value: string }[] }[] } } };
    }

    it("is an Indexed Job whose shard count is its completions, and its command line runs the shards that merge into every row once", async () => {
      const docs = parseAllDocuments(readFileSync(join(repoRoot, "examples/scale-out/k8s-indexed-job.yaml"), "utf8")).map((doc) => doc.toJS() as Manifest);
      const job = docs.find((doc) => doc.kind === "Job");
      expect(job?.spec).toMatchObject({ completionMode: "Indexed" });
      const container = job?.spec.template.spec.containers[0];
      const env = Object.fromEntries((container?.env ?? []).map((entry) => [entry.name, entry.value]));
      expect(env.CHAINETTE_SHARD_COUNT, "CHAINETTE_SHARD_COUNT must equal completions").toBe(String(job?.spec.completions));
      const command = container?.command ?? [];
      expect(command.slice(0, 3)).toEqual(["npx", "chainette-stream", "run"]);
      expect(command.join(" ")).toContain("--shard auto");

      // The pod's command line with this machine's paths and a simulator for the vLLM Service; 3 completions instead of 16.
      simulator = await startSimulator({ port: 0, model: "sim-model", timeScale: 0 });
      const input = join(workspace.work, "questions.jsonl");
      writeFileSync(input, questionLines(30));
      const out = join(workspace.work, "k8s-out");
      const local: Record<string, string> = { "chain.ts": "test/fixtures/chains/qa-chain.ts", "/data/input.jsonl": input, "/out": out };
      const args = command.slice(2).map((part) => local[part] ?? part.replace("http://vllm:8000", simulator?.url ?? ""));
      const count = 3;
      const pods = await Promise.all(Array.from({ length: count }, (_, index) => runCli(args, { env: { JOB_COMPLETION_INDEX: String(index), CHAINETTE_SHARD_COUNT: String(count) } })));
      for (const pod of pods) expect(pod.code, pod.stderr).toBe(0);
      const noCount = await runCli(args, { env: { JOB_COMPLETION_INDEX: "0" } });
      expect(noCount.code).toBe(2);
      expect(noCount.stderr).toContain("give --shard-count N or set CHAINETTE_SHARD_COUNT");

      const merged = await runCli(["merge", out]);
      expect(merged.code, merged.stderr).toBe(0);
      const { rootIds } = checkExactlyOnce(out, ["qa", "words", "keep", "split"]);
      // Questions "...7: ..." are filtered by the chain's `keep`: every other row is there once.
      expect([...rootIds].map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n).filter((n) => n % 10 !== 7));
    });
  });
});
