/**
 * Issue 10 (holes 9 and 11): the same job fault-free and under one fault each, in the same run,
 * with default engine settings (no timeoutMs). One LLM step with chat-sized answers (about 150
 * tokens) against the default simulator profile (Llama-3.1-8B on one H100) at the given time scale.
 *   npm run build && node --import tsx bench/fault-mix.ts [rows=2000] [timeScale=1] [scenarios=free,hang,http500,huge]
 * Columns: wall seconds, ratio to fault-free, rows/s as a share of fault-free, endpoint-down
 * events and retries (counted from --json-logs), and the CLI's peak RSS.
 */
import { join } from "node:path";
import type { FaultOptions } from "../src/sim/faults.js";
import { benchData, questionInput } from "./bench-data.js";
import { measure, table, type Measurement } from "./measure.js";
import { withSimulatorProcess } from "./sim-process.js";

const root = join(import.meta.dirname, "..");
const rows = Number(process.argv[2] ?? 2000);
const timeScale = Number(process.argv[3] ?? 1);
const wanted = new Set((process.argv[4] ?? "free,hang,http500,huge").split(","));

const scenarios: { name: string; label: string; faults: FaultOptions }[] = [
  { name: "free", label: "fault-free", faults: {} },
  { name: "hang", label: "1% hung requests", faults: { hang: 0.01 } },
  { name: "http500", label: "3% HTTP 500", faults: { http500: 0.03 } },
  { name: "huge", label: "0.5% replies of 64 MiB", faults: { hugeReply: 0.005, hugeReplyBytes: 64 * 1024 * 1024 } },
];

function withSimulator<T>(faults: FaultOptions, run: (url: string) => T): Promise<T> {
  return withSimulatorProcess({ port: 0, model: "bench-model", timeScale, faults, seed: 1 }, run);
}

const count = (stderr: string, event: string): number => stderr.split("\n").filter((line) => line.includes(`"event":"${event}"`)).length;

const input = await questionInput(rows);
const results: { label: string; m: Measurement }[] = [];
for (const scenario of scenarios.filter((candidate) => wanted.has(candidate.name))) {
  const result = await withSimulator(scenario.faults, (url) =>
    measure(process.execPath, [join(root, "dist/cli/main.js"), "run", join(root, "bench/chains/long-answer.ts"), "-i", input, "-o", join(benchData, `out-fault-${scenario.name}`), "--json-logs", "--fresh"], { BENCH_URL: url }),
  );
  results.push({ label: scenario.label, m: result });
  console.error(`${scenario.label}: ${result.seconds} s`);
}
const base = results.find((entry) => entry.label === "fault-free")?.m.seconds;
console.log(`${rows} rows, one step (about 150 output tokens per row), simulator profile llama-3.1-8b-h100 at time scale ${timeScale}, default engine settings\n`);
console.log(
  table(
    ["scenario", "wall s", "x fault-free", "throughput vs fault-free", "endpoint-down", "retries", "peak RSS MB"],
    results.map(({ label, m }) => [
      label,
      m.seconds.toFixed(1),
      base === undefined ? "-" : (m.seconds / base).toFixed(2),
      base === undefined ? "-" : `${((base / m.seconds) * 100).toFixed(0)}%`,
      count(m.stderr, "endpoint-down"),
      count(m.stderr, "request-retry"),
      Math.round(m.peakRssMb),
    ]),
  ),
);
