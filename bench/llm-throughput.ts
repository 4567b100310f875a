/**
 * Issue 4 (b) and (c): one LLM step over N rows against a simulator of known capacity (every request
 * takes exactly `serviceMs`, `maxNumSeqs` at once: capacity = maxNumSeqs / serviceMs), first with
 * chainette-stream, then with the openai-node + p-limit script, in the same run.
 *   npm run build && node --import tsx bench/llm-throughput.ts [rows] [serviceMs] [maxNumSeqs]
 */
import { join } from "node:path";
import { benchData, questionInput } from "./bench-data.js";
import { measure, table } from "./measure.js";
import { withSimulatorProcess } from "./sim-process.js";

const root = join(import.meta.dirname, "..");
const data = benchData;
const rows = Number(process.argv[2] ?? 50_000);
const serviceMs = Number(process.argv[3] ?? 200);
const maxNumSeqs = Number(process.argv[4] ?? 256);
const concurrency = Math.round(maxNumSeqs * 1.25);
const capacity = (maxNumSeqs / serviceMs) * 1000;

function withSimulator<T>(run: (url: string) => T): Promise<T> {
  return withSimulatorProcess({ port: 0, model: "bench-model", maxNumSeqs, timeScale: 1, ttftOverheadMs: serviceMs, prefillMsPerToken: 0, interTokenLatencyMs: 0, interTokenLatencyPerRunningMs: 0 }, run);
}

const input = await questionInput(rows);
const ours = await withSimulator((url) =>
  measure(process.execPath, [join(root, "dist/cli/main.js"), "run", join(root, "bench/chains/one-step.ts"), "-i", input, "-o", join(data, "out-llm"), "--quiet", "--fresh", "--concurrency", String(concurrency)], { BENCH_URL: url }),
);
const theirs = await withSimulator((url) => measure(process.execPath, ["--import", "tsx", join(root, "bench/baselines/openai-plimit.ts"), url, input, join(data, "out-openai.jsonl"), String(concurrency)]));

const row = (name: string, m: { seconds: number; peakRssMb: number }): (string | number)[] => [name, Math.round(rows / m.seconds), (rows / m.seconds / capacity).toFixed(3), Math.round(m.peakRssMb)];
console.log(`${rows} rows, simulator: ${maxNumSeqs} sequences x ${serviceMs} ms per request = capacity ${Math.round(capacity)} req/s; client concurrency ${concurrency}\n`);
console.log(table(["client", "rows/s", "achieved / capacity", "peak RSS MB"], [row("chainette-stream run", ours), row("openai-node + p-limit script", theirs)]));
