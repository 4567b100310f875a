/**
 * `npm run demo`: starts the bundled simulator (Llama-3.1-8B-on-H100 timings, real time) on a free
 * port, runs `examples/qa` over `fixtures/questions.jsonl` with the real CLI, and says where the
 * output is. No GPU, no network.
 *
 * Ctrl-C halfway, then `npm run demo` again, resumes: the run is a child in the demo's process
 * group (the terminal's foreground group), so the terminal's Ctrl-C reaches it directly, once, and the demo does not pass it on (a
 * second SIGINT would tell the run to abandon its rows in flight). The demo passes `--fresh` only
 * when there is nothing to resume (no earlier run, or a finished one), or when asked
 * (`npm run demo -- --fresh`). SIGTERM, which reaches the demo alone, is passed on once.
 *
 * Knobs for tests: `CHAINETTE_DEMO_OUT` (output folder, default out/demo) and
 * `CHAINETTE_DEMO_TIME_SCALE` (the simulator's clock speed-up, default 1).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Ledger } from "../durability/ledger.js";
import { startSimulator } from "../sim/index.js";
import { EXIT } from "./exit-codes.js";
import { formatCount } from "./format.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const model = "meta-llama/Llama-3.1-8B-Instruct";
const input = join(root, "fixtures/questions.jsonl");
const outDir = resolve(process.env.CHAINETTE_DEMO_OUT ?? join(root, "out", "demo"));
const shownOut = relative(process.cwd(), outDir).startsWith("..") ? outDir : relative(process.cwd(), outDir) || ".";
const timeScale = Number(process.env.CHAINETTE_DEMO_TIME_SCALE ?? "1");
if (!Number.isFinite(timeScale) || timeScale < 0) {
  process.stderr.write(`error: Expected \`CHAINETTE_DEMO_TIME_SCALE\` to be a number >= 0, got \`${process.env.CHAINETTE_DEMO_TIME_SCALE}\`\n`);
  process.exit(EXIT.usage);
}

/** The earlier run in OUTDIR: how far it got and whether it finished. */
function earlierRun(): { done: number; finished: boolean } | undefined {
  const path = join(outDir, "ledger.sqlite");
  if (!existsSync(path)) return undefined;
  const ledger = Ledger.open(path, { readonly: true });
  try {
    return { done: ledger.done().count(), finished: ledger.sessions().at(-1)?.status === "complete" };
  } finally {
    ledger.close();
  }
}

const askedFresh = process.argv.slice(2).includes("--fresh");
const earlier = earlierRun();
const fresh = askedFresh || earlier === undefined || earlier.finished;
if (earlier !== undefined && !fresh) {
  process.stderr.write(`Resuming the demo in ${shownOut}: ${formatCount(earlier.done)} questions were done before (npm run demo -- --fresh starts over)\n`);
} else if (earlier?.finished && !askedFresh) {
  process.stderr.write(`${shownOut} holds a finished demo run: starting over\n`);
}

const simulator = await startSimulator({ port: 0, model, timeScale });
process.stderr.write(`simulator (vLLM-compatible, ${model}) at ${simulator.url}\n`);
const args = [
  join(root, "dist/cli/main.js"), "run", join(root, "examples/qa/chain.ts"),
  "-i", input, "-o", outDir, ...(fresh ? ["--fresh"] : []),
  "--endpoint", `llama3=${simulator.url}/v1`, "--max-lines-per-file", "1000",
];
const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"] });
let interrupted = false;
let terminated = false;
// Ctrl-C: the terminal signals the whole foreground process group, the run included; passing it on
// would be a second Ctrl-C. (npm, running this script, also passes one here.)
process.on("SIGINT", () => void (interrupted = true));
process.on("SIGTERM", () => {
  if (terminated) return;
  terminated = true;
  child.kill("SIGTERM");
});
const code = await new Promise<number>((done) => child.on("exit", (exitCode, signal) => done(exitCode ?? (signal === null ? EXIT.failure : 128 + constants.signals[signal]))));
await simulator.close();
if (code === 0) {
  process.stdout.write(`\nDone. Look at:\n  ${shownOut}/flattened/   one joined record per answered question\n  ${shownOut}/summary.json  counts, tokens, latency percentiles\n  npx chainette-stream inspect ${shownOut}   the run's state in the terminal\n  npx chainette-stream view ${shownOut}      a local page: charts, errors by type, every row\n`);
} else if (code === EXIT.interrupted || interrupted || terminated) {
  const done = earlierRun()?.done ?? 0;
  process.stdout.write(`\nStopped: ${formatCount(done)} questions are done and saved in ${shownOut}. Run \`npm run demo\` again to resume where it stopped (\`npm run demo -- --fresh\` starts over).\n`);
}
process.exitCode = code;

