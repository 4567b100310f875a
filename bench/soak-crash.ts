/**
 * The long version of the crash tests: over a bigger input, every crash point of the commit
 * protocol (CHAINETTE_CRASH_AT) plus many SIGKILLs at random moments, resumes alternating the
 * window sizes (--concurrency / --batch-size), and a --retry-errors session in the middle: a first
 * phase with faults on (rows fail), then faults cleared and a --retry-errors resume that is itself
 * killed at its crash points and at random. Then a --format parquet run killed at random and at
 * the seal points, and a rerun after a chain change killed at its discard points, its commit points
 * and at random. At the end every folder must equal an uninterrupted fault-free run's (Parquet
 * rows read back through DuckDB), every row exactly once. Prints a table; exits 1 if any folder differs.
 *   npm run build && node --import tsx bench/soak-crash.ts [rows] [randomKills] [seed]
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CRASH_POINTS, type CrashPointName } from "../src/crash-points.js";
import { startSimulator } from "../src/sim/index.js";
import { parquetRecords } from "../test/formats/format-helpers.js";
import { table } from "./measure.js";

const root = join(import.meta.dirname, "..");
const data = join(root, ".bench-data", "soak");
const rows = Number(process.argv[2] ?? 20_000);
const randomKills = Number(process.argv[3] ?? 50);
let seed = Number(process.argv[4] ?? 42);
const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
const folders = ["qa", "count", "keep", "split", "flattened", "errors"];
/** Window sizes the invocations cycle through: a resume rarely has its predecessor's. */
const windows = [["--concurrency", "256", "--batch-size", "256"], ["--concurrency", "4", "--batch-size", "4"], ["--concurrency", "32", "--batch-size", "16"], ["--concurrency", "8", "--batch-size", "64"]];

rmSync(data, { recursive: true, force: true });
mkdirSync(data, { recursive: true });
const input = join(data, "input.jsonl");
writeFileSync(input, Array.from({ length: rows }, (_, i) => `${JSON.stringify({ text: `Question number ${i}: why is ${i} interesting?` })}\n`).join(""));
const simulator = await startSimulator({ port: 0, model: "sim-model", timeScale: 20 });

interface Outcome { code: number | null; signal: string | null; ms: number; stderr: string }
let invocation = 0;
const run = async (out: string, options: { killAfterMs?: number; crashAt?: string; retry?: boolean; parquet?: boolean; env?: Record<string, string> } = {}): Promise<Outcome> => {
  const window = windows[invocation++ % windows.length] ?? [];
  const args = [join(root, "dist/cli/main.js"), "run", join(root, "test/fixtures/chains/qa-chain.ts"), "-i", input, "-o", out, "--quiet", "--max-lines-per-file", "1000", ...window, ...(options.retry ? ["--retry-errors"] : []), ...(options.parquet ? ["--format", "parquet"] : [])];
  const env = { ...process.env, SIM_URL: simulator.url, ...options.env, ...(options.crashAt === undefined ? {} : { CHAINETTE_CRASH_AT: options.crashAt }) };
  const started = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), options.killAfterMs);
  const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
  clearTimeout(timer);
  return { code, signal, ms: performance.now() - started, stderr };
};
const folderLines = (out: string, folder: string): string[] => {
  const path = join(out, folder);
  const lines: string[] = [];
  for (const file of readdirSync(path).sort()) {
    const text = readFileSync(join(path, file), "utf8");
    if (text.length > 0 && !text.endsWith("\n")) throw new Error(`torn line in ${folder}/${file}`);
    lines.push(...text.split("\n").filter(Boolean));
  }
  return lines.sort();
};

const reference = join(data, "reference");
const clean = await run(reference, { env: {} });
if (clean.code !== 0) throw new Error(`the uninterrupted run exited ${clean.code}: ${clean.stderr}`);
console.log(`uninterrupted run: ${(clean.ms / 1000).toFixed(1)} s`);

const out = join(data, "killed");
const tally = new Map<string, { tries: number; killed: number }>();
let finished = false;
/** One invocation; true when it was killed. Throws on any other failure. */
const attempt = async (label: string, options: Parameters<typeof run>[1], into = out): Promise<boolean> => {
  const counts = tally.get(label) ?? { tries: 0, killed: 0 };
  tally.set(label, counts);
  counts.tries++;
  const result = await run(into, options);
  if (result.signal === "SIGKILL") {
    counts.killed++;
    return true;
  }
  if (result.code !== 0) throw new Error(`${label}: exit ${result.code}: ${result.stderr}`);
  finished = true;
  return false;
};
// Early in each invocation (start-up included): each resume gets a little further, so a phase rarely
// finishes before its kills are spent.
const randomKill = (): number => 300 + random() * clean.ms * 0.2;
const jsonlPoints = CRASH_POINTS.filter((point) => !point.startsWith("seal-") && !point.startsWith("retry-") && !point.startsWith("rerun-"));
const crashAtPoint = async (point: CrashPointName, retry: boolean): Promise<void> => {
  // A torn tail to cut back first: a crash after some writes.
  if (point === "recovery-truncated") await attempt("shard-written (before recovery)", { crashAt: `shard-written:${50 + Math.floor(random() * 200)}`, retry });
  const n = point === "json-temp-written" || point === "recovery-truncated" ? 1 : 1 + Math.floor(random() * 3);
  await attempt(point, { crashAt: `${point}:${n}`, retry });
};

// Phase 1, faults on: a third of the requests are answered 429 with no retry, so rows fail.
simulator.setFaults({ http429: 0.3 });
const faultEnv = { SIM_MAX_RETRIES: "0" };
for (const point of jsonlPoints) if (!finished) await crashAtPoint(point, false);
for (let i = 0; i < Math.floor(randomKills / 2) && !finished; i++) await attempt("random kill (faults on)", { killAfterMs: randomKill(), env: faultEnv });
while (!finished) await attempt("run to the end (faults on)", { env: faultEnv });
const failedRows = folderLines(out, "errors").length;

// Phase 2, faults cleared: --retry-errors, killed at its crash points, then at random, then at every point again.
simulator.setFaults({});
finished = false;
for (const point of CRASH_POINTS.filter((name) => name.startsWith("retry-"))) if (!finished) await attempt(`${point} (--retry-errors)`, { crashAt: point, retry: true });
for (const point of jsonlPoints) if (!finished) await crashAtPoint(point, true);
for (let i = Math.floor(randomKills / 2); i < randomKills && !finished; i++) await attempt("random kill (--retry-errors)", { killAfterMs: randomKill(), retry: true });
while (!finished) await attempt("run to the end (--retry-errors)", { retry: true });
/** Random kills that really killed a run so far (a run may finish before its kill). */
const randomKilled = (): number => [...tally].filter(([label]) => label.startsWith("random kill")).reduce((sum, [, counts]) => sum + counts.killed, 0);

// The JSONL phases are judged now: phase 4 reruns that OUTDIR with a changed chain.
const results: (string | number)[][] = [];
let identical = true;
const judge = (label: string, expected: string[], actual: string[]): void => {
  const ids = actual.map((line) => (JSON.parse(line) as { row_id: string }).row_id);
  const same = expected.length === actual.length && expected.every((line, i) => line === actual[i]);
  identical &&= same;
  results.push([label, expected.length, actual.length, ids.length - new Set(ids).size, same ? "yes" : "NO"]);
};
for (const folder of folders) judge(`${folder}/`, folderLines(reference, folder), folderLines(out, folder));

// Phase 4, reruns after a chain change (its first step's prompt), three in a row: to a new prompt,
// to another, back to the first (every reply from the cache). A discard is finished by whatever
// runs next, so each rerun is killed at one of its discard points, then at commit points and at
// random as it goes on. The last must equal the uninterrupted rerun of the reference.
const prompts = ["Answer this question: {{text}}", "Reply to: {{text}}"] as const;
const rerunReference = join(data, "reference-rerun");
cpSync(reference, rerunReference, { recursive: true });
const rerunClean = await run(rerunReference, { env: { QA_PROMPT: prompts[0] } });
if (rerunClean.code !== 0) throw new Error(`the uninterrupted rerun exited ${rerunClean.code}: ${rerunClean.stderr}`);
const rerunPoints = ["rerun-marked", `rerun-discarding:${1 + Math.floor(random() * 6)}`, "rerun-discarded"];
for (const [index, crashAt] of rerunPoints.entries()) {
  const env = { QA_PROMPT: prompts[index % 2] ?? "" };
  finished = false;
  await attempt(`${crashAt.replace(/:\d+$/, "")} (rerun ${index + 1})`, { crashAt, env });
  for (const point of ["shard-synced", "ledger-committed"] as const) if (!finished) await attempt(`${point} (rerun ${index + 1})`, { crashAt: `${point}:${1 + Math.floor(random() * 3)}`, env });
  for (let i = 0; i < Math.max(3, Math.floor(randomKills / 10)) && !finished; i++) await attempt("random kill (rerun)", { killAfterMs: randomKill(), env });
  while (!finished) await attempt(`run to the end (rerun ${index + 1})`, { env });
}
for (const folder of folders) judge(`${folder}/ (rerun)`, folderLines(rerunReference, folder), folderLines(out, folder));

// Phase 3, --format parquet: the seal points (and random kills) against an uninterrupted Parquet run.
const parquetReference = join(data, "reference-parquet");
const parquetClean = await run(parquetReference, { parquet: true });
if (parquetClean.code !== 0) throw new Error(`the uninterrupted Parquet run exited ${parquetClean.code}: ${parquetClean.stderr}`);
const parquetOut = join(data, "killed-parquet");
finished = false;
// The random kills the JSONL phases could not make (their runs finished first) happen here.
for (const point of CRASH_POINTS.filter((name) => name.startsWith("seal-"))) {
  for (let n = 1; n <= 3 && !finished; n++) await attempt(`${point} (parquet)`, { crashAt: `${point}:${n}`, parquet: true }, parquetOut);
}
const parquetKills = Math.max(5, randomKills - randomKilled());
for (let i = 0; i < parquetKills && !finished; i++) await attempt("random kill (parquet)", { killAfterMs: randomKill(), parquet: true }, parquetOut);
while (!finished) await attempt("run to the end (parquet)", { parquet: true }, parquetOut);
await simulator.close();

console.log(`\n${failedRows} rows failed in the faults phase and were retried\n`);
console.log(table(["invocations", "tries", "killed"], [...tally].map(([label, counts]) => [label, counts.tries, counts.killed])));
for (const folder of folders) {
  const records = async (dir: string): Promise<string[]> => (await parquetRecords(dir, folder)).map((record) => JSON.stringify(record)).sort();
  judge(`${folder}/ (parquet)`, await records(parquetReference), await records(parquetOut));
}
console.log(`\n${table(["folder", "uninterrupted rows", "rows", "duplicates", "identical"], results)}`);
console.log(`\n${[...tally.values()].reduce((sum, counts) => sum + counts.killed, 0)} SIGKILLs (${randomKilled()} at random moments, the rest at crash points) over ${invocation - 1} invocations; outputs identical: ${identical}`);
if (!identical) process.exitCode = 1;
