/**
 * `npm run demo`: starts the bundled simulator (Llama-3.1-8B-on-H100 timings, real time) on a free
 * port, runs `examples/qa` over `fixtures/questions.jsonl` with the real CLI, and says where the
 * output is. No GPU, no network.
 */
import { spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startSimulator } from "../sim/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const model = "meta-llama/Llama-3.1-8B-Instruct";
const simulator = await startSimulator({ port: 0, model, timeScale: 1 });
const outDir = join(root, "out", "demo");
process.stderr.write(`simulator (vLLM-compatible, ${model}) at ${simulator.url}\n`);

const args = [
  join(root, "dist/cli/main.js"), "run", join(root, "examples/qa/chain.ts"),
  "-i", join(root, "fixtures/questions.jsonl"), "-o", outDir, "--fresh",
  "--endpoint", `llama3=${simulator.url}/v1`, "--max-lines-per-file", "1000",
];
const child = spawn(process.execPath, args, { stdio: "inherit" });
const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
process.on("SIGINT", forward);
const code = await new Promise<number>((done) => child.on("exit", (exitCode) => done(exitCode ?? 1)));
await simulator.close();
if (code === 0) {
  process.stdout.write(`\nDone. Look at:\n  ${outDir}/flattened/   one joined record per answered question\n  ${outDir}/summary.json  counts, tokens, latency percentiles\n  npx chainette-stream inspect ${outDir}\n`);
}
process.exitCode = code;
