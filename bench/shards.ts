/**
 * Issue 13: a job split over 1, 2 and 4 shard processes (`--shard I/N`), each against its own
 * simulator endpoint of fixed capacity (one vLLM server per node), started together; rows/s is the
 * input's rows over the wall time until the last shard completes, then `merge`. The ratio is
 * against 1 shard in the same run. Also: what the JSONL split costs (aligning + counting a shard's
 * row offset) against reading the whole file.
 *   npm run build && node --import tsx bench/shards.ts [rows] [serviceMs] [maxNumSeqs]
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { countRowsInRange, jsonlByteRange } from "../src/io/jsonl-byte-ranges.js";
import { countLines } from "../src/io/count-lines.js";
import { benchData, questionInput } from "./bench-data.js";
import { measure, table } from "./measure.js";

const root = join(import.meta.dirname, "..");
const rows = Number(process.argv[2] ?? 20_000);
const serviceMs = Number(process.argv[3] ?? 100);
const maxNumSeqs = Number(process.argv[4] ?? 64);
const capacity = (maxNumSeqs / serviceMs) * 1000;
const input = await questionInput(rows);
const cli = join(root, "dist/cli/main.js");

const simOptions = { port: 0, model: "bench-model", maxNumSeqs, timeScale: 1, ttftOverheadMs: serviceMs, prefillMsPerToken: 0, interTokenLatencyMs: 0, interTokenLatencyPerRunningMs: 0 };

/** `count` simulators, each in its own process (bench/sim-server.ts), for the time of `run`. */
async function withSimulators<T>(count: number, run: (urls: string[]) => Promise<T>): Promise<T> {
  const children = Array.from({ length: count }, () => spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "sim-server.ts"), JSON.stringify(simOptions)], { stdio: ["ignore", "pipe", "inherit"] }));
  try {
    const urls = await Promise.all(children.map(async (child) => ((await once(createInterface({ input: child.stdout }), "line")) as [string])[0]));
    return await run(urls);
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await Promise.all(children.filter((child) => child.exitCode === null).map((child) => once(child, "exit")));
  }
}

async function runShards(count: number): Promise<{ seconds: number; mergeSeconds: number }> {
  const out = join(benchData, `out-shards-${count}`);
  return withSimulators(count, async (urls) => {
    const started = performance.now();
    await Promise.all(
      urls.map(async (url, index) => {
        const args = [cli, "run", join(root, "bench/chains/one-step.ts"), "-i", input, "-o", out, "--shard", `${index}/${count}`, "--quiet", "--fresh", "--concurrency", String(Math.round(maxNumSeqs * 1.25))];
        const child = spawn(process.execPath, args, { env: { ...process.env, BENCH_URL: url }, stdio: ["ignore", "ignore", "inherit"] });
        const [code] = (await once(child, "exit")) as [number | null];
        if (code !== 0) throw new Error(`shard ${index}/${count} exited ${code}`);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const merge = measure(process.execPath, [cli, "merge", out]);
    return { seconds, mergeSeconds: merge.seconds };
  });
}

const results: (string | number)[][] = [];
let baseline = 0;
for (const count of [1, 2, 4]) {
  const { seconds, mergeSeconds } = await runShards(count);
  const rate = rows / seconds;
  if (count === 1) baseline = rate;
  results.push([count, Math.round(rate), (rate / baseline).toFixed(2), (rate / (capacity * count)).toFixed(3), mergeSeconds.toFixed(2)]);
}
console.log(`${rows} rows; each shard has its own simulator: ${maxNumSeqs} sequences x ${serviceMs} ms = capacity ${Math.round(capacity)} req/s\n`);
console.log(table(["shards", "rows/s", "vs 1 shard", "achieved / capacity", "merge s"], results));

// The split's own cost on a big file: the last shard of 16 aligns its range and counts every range before it (nobody published yet).
const big = await questionInput(1_000_000);
const size = statSync(big).size;
let started = performance.now();
let prefix = 0;
for (let index = 0; index < 16; index++) prefix += await countRowsInRange(big, await jsonlByteRange(big, size, index, 16));
const countAll = (performance.now() - started) / 1000;
started = performance.now();
const own = await countRowsInRange(big, await jsonlByteRange(big, size, 15, 16));
const countOwn = (performance.now() - started) / 1000;
started = performance.now();
await countLines(big);
const countLinesSeconds = (performance.now() - started) / 1000;
console.log(`\nsplit cost, ${(size / 1e6).toFixed(0)} MB, ${prefix} rows (page cache): counting all 16 ranges ${countAll.toFixed(2)} s (${(size / 1e6 / countAll).toFixed(0)} MB/s; countLines ${countLinesSeconds.toFixed(2)} s); one range (${own} rows) ${countOwn.toFixed(3)} s`);
