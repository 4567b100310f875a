/**
 * The response cache (docs/cache.md), in one run of this script:
 *  0. its overhead at a server's capacity: the LLM throughput bench's setting (every request takes
 *     200 ms, 256 at once: 1,280 req/s; 320 in flight), rows/s with the cache and with --no-cache;
 *  1. its overhead: one LLM step over N rows on an instant simulator (the client's CPU is the limit,
 *     so a per-request cost shows in full), with the cache (default) and with --no-cache, alternated,
 *     median of `repeats` each;
 *  2. a rerun: a two-step chain over N rows, then the same command with the second step changed
 *     (N requests, N cache hits), then a rerun of a changed --format (every reply from the cache).
 * Reported: wall seconds and the client's CPU seconds (user + sys): on the shared 2-core machine the
 * CPU time is the steadier figure (other processes stretch the wall time, not the CPU time).
 *   npm run build && node --import tsx bench/response-cache.ts [rows] [repeats]
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { benchData, questionInput } from "./bench-data.js";
import { table } from "./measure.js";
import { withSimulatorProcess } from "./sim-process.js";

const root = join(import.meta.dirname, "..");
const rows = Number(process.argv[2] ?? 20_000);
const repeats = Number(process.argv[3] ?? 3);
const cli = join(root, "dist/cli/main.js");
const input = await questionInput(rows);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

interface Cost {
  seconds: number;
  cpu: number;
}

/** Wall and CPU seconds (user + sys) of one CLI run, under GNU time. */
function measureCost(args: readonly string[], env: Record<string, string>): Cost {
  const result = spawnSync("/usr/bin/time", ["-f", "%e %U %S", process.execPath, cli, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`run ${args.join(" ")} failed (${result.status}):\n${result.stderr.slice(-2000)}`);
  const [seconds, user, sys] = (result.stderr.trim().split("\n").at(-1) ?? "").split(" ").map(Number);
  return { seconds: seconds ?? Number.NaN, cpu: (user ?? Number.NaN) + (sys ?? Number.NaN) };
}

const capacityRuns = await withSimulatorProcess(
  { port: 0, model: "bench-model", maxNumSeqs: 256, timeScale: 1, ttftOverheadMs: 200, prefillMsPerToken: 0, interTokenLatencyMs: 0, interTokenLatencyPerRunningMs: 0 },
  (url) => {
    const out = join(benchData, "out-cache-capacity");
    const run = (extra: string[]): Cost => {
      rmSync(out, { recursive: true, force: true });
      return measureCost(["run", join(root, "bench/chains/one-step.ts"), "-i", input, "-o", out, "--quiet", "--concurrency", "320", ...extra], { BENCH_URL: url });
    };
    const uncached: Cost[] = [];
    const cached: Cost[] = [];
    for (let repeat = 0; repeat < repeats; repeat++) {
      uncached.push(run(["--no-cache"]));
      cached.push(run([]));
    }
    return { uncached, cached };
  },
);
const capacity = 1280;
const ratio = (costs: Cost[]): number => rows / median(costs.map((cost) => cost.seconds)) / capacity;
console.log(`${rows} rows, simulator capacity ${capacity} req/s (200 ms x 256), 320 in flight, median of ${repeats}\n`);
console.log(table(["one LLM step at capacity", "achieved / capacity", "CPU s"], [
  ["--no-cache", ratio(capacityRuns.uncached).toFixed(3), median(capacityRuns.uncached.map((cost) => cost.cpu)).toFixed(2)],
  ["cache (default)", ratio(capacityRuns.cached).toFixed(3), median(capacityRuns.cached.map((cost) => cost.cpu)).toFixed(2)],
]));
console.log("");

await withSimulatorProcess({ port: 0, model: "bench-model", profile: "instant" }, (url) => {
  const env = { BENCH_URL: url };
  const out = join(benchData, "out-cache");
  const oneStep = (extra: string[]): Cost => {
    rmSync(out, { recursive: true, force: true });
    return measureCost(["run", join(root, "bench/chains/one-step.ts"), "-i", input, "-o", out, "--quiet", ...extra], env);
  };
  const cached: Cost[] = [];
  const uncached: Cost[] = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    uncached.push(oneStep(["--no-cache"]));
    cached.push(oneStep([]));
  }
  const rerunOut = join(benchData, "out-rerun");
  const twoStep = (extra: string[], stepEnv: Record<string, string> = {}): Cost =>
    measureCost(["run", join(root, "bench/chains/two-step.ts"), "-i", input, "-o", rerunOut, "--quiet", ...extra], { ...env, ...stepEnv });
  const changed = { STEP2_PROMPT: "Make it short: {{qa.answer}}" };
  const firsts: Cost[] = [];
  const lastChanged: Cost[] = [];
  const formatChanged: Cost[] = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    rmSync(rerunOut, { recursive: true, force: true });
    // Each repeat's first run sends every request: its own prompt for the second step.
    const own = { STEP2_PROMPT: `Shorten (${repeat}): {{qa.answer}}` };
    firsts.push(twoStep(["--no-cache"], own));
    rmSync(rerunOut, { recursive: true, force: true });
    twoStep([], own);
    lastChanged.push(twoStep([], { STEP2_PROMPT: `${changed.STEP2_PROMPT} (${repeat})` }));
    formatChanged.push(twoStep(["--format", "parquet"], { STEP2_PROMPT: `${changed.STEP2_PROMPT} (${repeat})` }));
  }
  const of = (costs: Cost[]): Cost => ({ seconds: median(costs.map((cost) => cost.seconds)), cpu: median(costs.map((cost) => cost.cpu)) });
  const [noCache, withCache, first, rerunLast, rerunFormat] = [of(uncached), of(cached), of(firsts), of(lastChanged), of(formatChanged)];

  console.log(`${rows} rows, instant simulator, median of ${repeats}\n`);
  console.log(table(["one LLM step", "wall s", "CPU s", "CPU vs --no-cache", "wall vs --no-cache"], [
    ["--no-cache", noCache.seconds.toFixed(2), noCache.cpu.toFixed(2), "1.000", "1.000"],
    ["cache (default, empty at start)", withCache.seconds.toFixed(2), withCache.cpu.toFixed(2), (withCache.cpu / noCache.cpu).toFixed(3), (withCache.seconds / noCache.seconds).toFixed(3)],
  ]));
  console.log("");
  console.log(table(["two LLM steps", "wall s", "CPU s", "wall vs first run"], [
    ["first run (2N requests, --no-cache)", first.seconds.toFixed(2), first.cpu.toFixed(2), "1.000"],
    ["rerun, second step changed (N requests, N hits)", rerunLast.seconds.toFixed(2), rerunLast.cpu.toFixed(2), (rerunLast.seconds / first.seconds).toFixed(3)],
    ["rerun, --format parquet (2N hits, 0 requests)", rerunFormat.seconds.toFixed(2), rerunFormat.cpu.toFixed(2), (rerunFormat.seconds / first.seconds).toFixed(3)],
  ]));
});
