/**
 * Capacity of the simulator's continuous-batching model, and the simulator's own speed.
 *
 *   node --import tsx bench/sim-capacity.ts
 *
 * The simulator runs in a child process (`chainette-stream sim` via runSimCommand), the load
 * generator here on an undici Pool, so each gets a core. Closed loop: `concurrency` workers each
 * send one request after another (256-token prompt, exactly 128 output tokens through vLLM's
 * `ignore_eos`). Throughput is measured in model time (wall req/s divided by the time scale) and
 * printed beside the model's prediction. The last row runs at time scale 0: what the simulator
 * itself sustains when the model costs nothing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { Pool } from "undici";
import { PROFILES } from "../src/sim/index.js";

const TIME_SCALE = Number(process.env.SIM_BENCH_TIME_SCALE ?? 25);
const WINDOW_MS = Number(process.env.SIM_BENCH_WINDOW_MS ?? 3000);
const PROMPT_TOKENS = 256;
const OUTPUT_TOKENS = 128;
const model = PROFILES["llama-3.1-8b-h100"];

// 4 template tokens + 252 content tokens of 4 characters = a 256-token prompt.
const chatBody = JSON.stringify({
  model: "sim-llama-3.1-8b",
  messages: [{ role: "user", content: "word ".repeat(((PROMPT_TOKENS - 4) * 4) / 5).padEnd((PROMPT_TOKENS - 4) * 4, ".") }],
  max_tokens: OUTPUT_TOKENS,
  ignore_eos: true,
});
const schemaBody = JSON.stringify({
  model: "sim-llama-3.1-8b",
  messages: [{ role: "system", content: "Answer in JSON." }, { role: "user", content: "What is the capital of France?" }],
  response_format: { type: "json_schema", json_schema: { name: "answer", strict: true, schema: { type: "object", properties: { answer: { type: "string" }, confidence: { type: "number", minimum: 0, maximum: 1 } }, required: ["answer", "confidence"] } } },
});

/** The model's steady-state prediction, in model req/s (see docs/simulator.md). */
function predicted(concurrency: number, maxNumSeqs: number): number {
  const running = Math.min(concurrency, maxNumSeqs);
  const interTokenLatency = model.interTokenLatencyMs + model.interTokenLatencyPerRunningMs * (running - 1);
  const timeToFirstToken = model.ttftOverheadMs + model.prefillMsPerToken * PROMPT_TOKENS;
  // After prefill a request joins the batch at the next step boundary: half a step on average.
  const joinDelay = running > 1 ? interTokenLatency / 2 : 0;
  return (running * 1000) / (timeToFirstToken + (OUTPUT_TOKENS - 1) * interTokenLatency + joinDelay);
}

async function startChild(flags: string[]): Promise<{ child: ChildProcess; url: string }> {
  const script = `import { runSimCommand } from "./src/sim/command.ts"; process.exitCode = await runSimCommand(process.argv.slice(1));`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, "--", "--port", "0", ...flags], { stdio: ["ignore", "pipe", "inherit"] });
  if (child.stdout === null) throw new Error("no stdout from the simulator");
  const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
  const url = /(http:\/\/[^ ]+)/.exec(line)?.[1];
  if (url === undefined) throw new Error(`unexpected first line from the simulator: ${line}`);
  return { child, url };
}

async function stopChild(child: ChildProcess): Promise<void> {
  child.kill("SIGTERM");
  await once(child, "exit");
}

/** Closed-loop load: returns completed requests per wall second inside the window. */
async function load(url: string, concurrency: number, body: string, warmupMs: number, windowMs: number): Promise<number> {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const startedAt = performance.now();
  const windowStart = startedAt + warmupMs;
  const windowEnd = windowStart + windowMs;
  let counted = 0;
  const worker = async (index: number): Promise<void> => {
    // Stagger the start over the warm-up so the workers do not move in waves.
    await new Promise((resolve) => setTimeout(resolve, (warmupMs / 2) * (index / concurrency)));
    while (performance.now() < windowEnd) {
      const response = await pool.request({ path: "/v1/chat/completions", method: "POST", headers: { "content-type": "application/json" }, body });
      await response.body.text();
      if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
      const now = performance.now();
      if (now >= windowStart && now < windowEnd) counted++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)));
  await pool.close();
  return (counted * 1000) / windowMs;
}

const rows: string[][] = [];
for (const maxNumSeqs of [256, 64]) {
  const { child, url } = await startChild(["--time-scale", String(TIME_SCALE), "--max-num-seqs", String(maxNumSeqs)]);
  for (const concurrency of [1, 16, 64, 256, 1024]) {
    const expected = predicted(concurrency, maxNumSeqs);
    // Warm up for one full request cycle (queue included), in wall time.
    const cycleMs = ((Math.max(concurrency, maxNumSeqs) / Math.min(concurrency, maxNumSeqs)) * Math.min(concurrency, maxNumSeqs) * 1000) / expected / TIME_SCALE;
    const measured = (await load(url, concurrency, chatBody, Math.max(200, 1.2 * cycleMs), WINDOW_MS)) / TIME_SCALE;
    rows.push([String(concurrency), String(maxNumSeqs), expected.toFixed(2), measured.toFixed(2), (measured / expected).toFixed(3)]);
    process.stderr.write(`concurrency ${concurrency}, max-num-seqs ${maxNumSeqs}: ${measured.toFixed(2)} req/s\n`);
  }
  await stopChild(child);
}

const instant = await startChild(["--profile", "instant"]);
for (const concurrency of [64, 256]) {
  await load(instant.url, concurrency, schemaBody, 0, 1000);
  const rate = await load(instant.url, concurrency, schemaBody, 500, WINDOW_MS);
  rows.push([String(concurrency), "zero latency", "-", rate.toFixed(0), "-"]);
}
await stopChild(instant.child);

const header = ["concurrency", "max-num-seqs", "predicted req/s", "measured req/s", "ratio"];
const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
const format = (cells: string[]): string => `| ${cells.map((cell, column) => cell.padStart(widths[column] ?? 0)).join(" | ")} |`;
console.log(`llama-3.1-8b-h100 profile, ${PROMPT_TOKENS}-token prompts, ${OUTPUT_TOKENS} output tokens, time scale ${TIME_SCALE} (req/s in model time); zero-latency rows: json_schema replies, wall req/s`);
console.log(format(header));
console.log(`|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`);
for (const row of rows) console.log(format(row));
