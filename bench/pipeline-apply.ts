/**
 * Issue 4 (a) and issue 5's ledger cost: 1M JSONL rows through an apply-only chain with the real CLI
 * (shards, flattened view, ledger, fsync'd commits) against the raw Node baseline in the same run;
 * peak RSS at 1M and 3M rows; and the commit cost (fsync + ledger) as a fraction of pipeline time.
 * Five interleaved rounds (BENCH_RUNS), medians reported, each run after a `sync`.
 *   npm run build && node --import tsx bench/pipeline-apply.ts [rows]
 */
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { benchData, generateLines } from "./bench-data.js";
import { measure, table, type Measurement } from "./measure.js";

const root = join(import.meta.dirname, "..");
const data = benchData;
const rows = Number(process.argv[2] ?? 1_000_000);
const node = process.execPath;

const words = ["stream", "batch", "token", "shard", "ledger", "commit", "vector", "engine", "schema", "resume"];
function generate(count: number): Promise<string> {
  return generateLines(`apply-${count}.jsonl`, count, (i) => {
    const text = Array.from({ length: 24 }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(" ");
    return JSON.stringify({ id: i, text, tags: ["a", `t${i % 17}`, `u${i % 5}`], score: (i % 1000) / 1000, source: "bench" });
  });
}

// The output folder is removed before each run, outside the timing (a --fresh run would time
// deleting the previous run's 370 MB; the baselines only truncate one small file).
const cli = (input: string, out: string): [string, string[]] => {
  rmSync(out, { recursive: true, force: true });
  return [node, [join(root, "dist/cli/main.js"), "run", join(root, "bench/chains/apply-only.ts"), "-i", input, "-o", out, "--quiet", "--max-lines-per-file", "100000"]];
};
const library = (input: string, out: string, interval: number): [string, string[]] => {
  rmSync(out, { recursive: true, force: true });
  return [node, ["--import", "tsx", join(root, "bench/run-job-once.ts"), join(root, "bench/chains/apply-only.ts"), input, out, String(interval)]];
};

const input = await generate(rows);
const out = join(data, "out-apply");
const results: (string | number)[][] = [];
const runs = Number(process.env.BENCH_RUNS ?? 5);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

// Each measurement starts with no dirty pages left by the one before (`sync`, untimed): otherwise
// the kernel flushes the previous case's 370 MB during the next one. The cases are interleaved,
// round by round, so a slow spell of this shared machine hits them all alike.
const settled = <T>(run: () => T): T => {
  execFileSync("sync");
  return run();
};
const baseline: Measurement[] = [];
const sameOutput: Measurement[] = [];
const ours: Measurement[] = [];
for (let round = 0; round < runs; round++) {
  baseline.push(settled(() => measure(node, ["--import", "tsx", join(root, "bench/baselines/raw-jsonl.ts"), input, join(data, "baseline-out.jsonl")])));
  sameOutput.push(settled(() => measure(node, ["--import", "tsx", join(root, "bench/baselines/raw-jsonl-same-output.ts"), input, join(data, "baseline-same")])));
  ours.push(settled(() => measure(...cli(input, out))));
}
const ratios = ours.map((m, round) => (baseline[round]?.seconds ?? Number.NaN) / m.seconds);
const baseSeconds = median(baseline.map((m) => m.seconds));
const ourSeconds = median(ours.map((m) => m.seconds));
results.push(["raw Node baseline (split2 + parse + stringify)", rows, Math.round(rows / baseSeconds), "1.00", Math.round(median(baseline.map((m) => m.peakRssMb)))]);
const sameSeconds = median(sameOutput.map((m) => m.seconds));
results.push(["raw Node writing the same two files (node + flattened)", rows, Math.round(rows / sameSeconds), (baseSeconds / sameSeconds).toFixed(2), Math.round(median(sameOutput.map((m) => m.peakRssMb)))]);
results.push(["chainette-stream run (CLI, apply-only)", rows, Math.round(rows / ourSeconds), (baseSeconds / ourSeconds).toFixed(2), Math.round(median(ours.map((m) => m.peakRssMb)))]);

const withCommits: number[] = [];
const oneCommit: number[] = [];
for (let round = 0; round < runs; round++) {
  withCommits.push(settled(() => measure(...library(input, out, 1000)).seconds));
  oneCommit.push(settled(() => measure(...library(input, out, 3_600_000)).seconds));
}
const commitCost = (median(withCommits) - median(oneCommit)) / median(withCommits);

const big = await generate(rows * 3);
const bigRun = settled(() => measure(...cli(big, join(data, "out-apply-3x"))));
results.push(["chainette-stream run (CLI, apply-only)", rows * 3, Math.round((rows * 3) / bigRun.seconds), "", Math.round(bigRun.peakRssMb)]);

console.log(table(["case", "rows", "rows/s", "ratio vs baseline", "peak RSS MB"], results));
console.log(`\nratio per round (baseline / ours, same round): ${ratios.map((ratio) => ratio.toFixed(2)).join(" ")}; medians of ${runs}`);
console.log(`\nchainette-stream vs raw Node writing the same two files: ${(sameSeconds / ourSeconds).toFixed(2)}`);
console.log(`\ncommit cost (fsync + ledger, commits every 1 s vs one at the end): ${(commitCost * 100).toFixed(1)}% of pipeline time (medians of ${runs}: ${median(withCommits).toFixed(2)} s vs ${median(oneCommit).toFixed(2)} s)`);
rmSync(join(data, "out-apply-3x"), { recursive: true, force: true });
