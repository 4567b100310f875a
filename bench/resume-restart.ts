/**
 * Issue 5: a 1M-row LLM run (one step, against the simulator answering instantly) is SIGKILLed at
 * ~90%; we measure the time from restarting the same command to its first new request, then let
 * the resume finish and check that every row is in qa/ exactly once.
 *   npm run build && node --import tsx bench/resume-restart.ts [rows] [killAtFraction]
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { benchData, questionInput } from "./bench-data.js";
import { startSimulator } from "../src/sim/index.js";

const root = join(import.meta.dirname, "..");
const data = benchData;
const rows = Number(process.argv[2] ?? 1_000_000);
const killAt = Math.floor(rows * Number(process.argv[3] ?? 0.9));

const input = await questionInput(rows);
const simulator = await startSimulator({ port: 0, model: "bench-model", profile: "instant" });
const chatRequests = (): number => simulator.stats().requests["/v1/chat/completions"] ?? 0;
const outDir = join(data, "out-restart");
const args = (fresh: boolean): string[] => [join(root, "dist/cli/main.js"), "run", join(root, "bench/chains/one-step.ts"), "-i", input, "-o", outDir, "--json-logs", ...(fresh ? ["--fresh"] : [])];
const env = { ...process.env, BENCH_URL: simulator.url };

// 1. Run until the ledger's watermark passes killAt, then SIGKILL.
const started = performance.now();
const first = spawn(process.execPath, args(true), { env, stdio: ["ignore", "ignore", "pipe"] });
let watermark = 0;
for await (const line of createInterface({ input: first.stderr })) {
  if (!line.includes('"commit"')) continue;
  watermark = (JSON.parse(line) as { watermark?: number }).watermark ?? watermark;
  if (watermark >= killAt) {
    first.kill("SIGKILL");
    break;
  }
}
await once(first, "exit");
const firstSeconds = (performance.now() - started) / 1000;

// 2. Restart; time to the first request the simulator sees.
const before = chatRequests();
const restarted = performance.now();
const second = spawn(process.execPath, args(false), { env, stdio: ["ignore", "ignore", "pipe"] });
second.stderr.resume();
let firstRequestMs = Number.NaN;
while (Number.isNaN(firstRequestMs)) {
  if (chatRequests() > before) firstRequestMs = performance.now() - restarted;
  else await new Promise((resolve) => setTimeout(resolve, 2));
}
const [code] = (await once(second, "exit")) as [number];
const resumeSeconds = (performance.now() - restarted) / 1000;
await simulator.close();

// 3. Every row in qa/ exactly once.
const seen = new Uint8Array(rows);
let lines = 0;
let duplicates = 0;
for (const file of readdirSync(join(outDir, "qa")).sort()) {
  for (const line of readFileSync(join(outDir, "qa", file), "utf8").split("\n")) {
    if (line === "") continue;
    const id = Number((JSON.parse(line) as { row_id: string }).row_id);
    if (seen[id]) duplicates++;
    seen[id] = 1;
    lines++;
  }
}
console.log(`rows: ${rows}; first run killed at watermark ${watermark} after ${firstSeconds.toFixed(1)} s (${Math.round(watermark / firstSeconds)} rows/s)`);
console.log(`restart -> first new request: ${(firstRequestMs / 1000).toFixed(2)} s (target <= 3 s)`);
console.log(`resume finished with exit ${code} in ${resumeSeconds.toFixed(1)} s; qa/ lines ${lines}, distinct rows ${seen.reduce((sum, bit) => sum + bit, 0)}, duplicates ${duplicates}`);
