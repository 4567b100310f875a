/**
 * The long version of the crash test: many SIGKILLs at random moments over a bigger input, then a
 * check that the outputs equal an uninterrupted run's, every row exactly once.
 *   npm run build && node --import tsx bench/soak-crash.ts [rows] [kills] [seed]
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { startSimulator } from "../src/sim/index.js";

const root = join(import.meta.dirname, "..");
const data = join(root, ".bench-data", "soak");
const rows = Number(process.argv[2] ?? 20_000);
const kills = Number(process.argv[3] ?? 20);
let seed = Number(process.argv[4] ?? 42);
const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;

rmSync(data, { recursive: true, force: true });
mkdirSync(data, { recursive: true });
const input = join(data, "input.jsonl");
writeFileSync(input, Array.from({ length: rows }, (_, i) => `${JSON.stringify({ text: `Question number ${i}: why is ${i} interesting?` })}\n`).join(""));
const simulator = await startSimulator({ port: 0, model: "sim-model", timeScale: 20 });
const env = { ...process.env, SIM_URL: simulator.url };
const run = async (out: string, killAfterMs?: number): Promise<{ code: number | null; signal: string | null; ms: number }> => {
  const started = performance.now();
  const child = spawn(process.execPath, [join(root, "dist/cli/main.js"), "run", join(root, "test/fixtures/chains/qa-chain.ts"), "-i", input, "-o", out, "--quiet", "--max-lines-per-file", "1000"], { env, stdio: "ignore" });
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), killAfterMs);
  const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
  clearTimeout(timer);
  return { code, signal, ms: performance.now() - started };
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

const reference = await run(join(data, "reference"));
console.log(`uninterrupted run: ${(reference.ms / 1000).toFixed(1)} s`);
const out = join(data, "killed");
let killed = 0;
let attempts = 0;
for (;;) {
  attempts++;
  const result = killed < kills ? await run(out, 300 + random() * reference.ms * 0.4) : await run(out);
  if (result.signal === "SIGKILL") killed++;
  else if (result.code === 0) break;
  else throw new Error(`run exited ${result.code}`);
}
await simulator.close();
let identical = true;
for (const folder of ["qa", "count", "keep", "split", "flattened", "errors"]) {
  const expected = folderLines(join(data, "reference"), folder);
  const actual = folderLines(out, folder);
  const ids = actual.map((line) => (JSON.parse(line) as { row_id: string }).row_id);
  const same = expected.length === actual.length && expected.every((line, i) => line === actual[i]);
  identical &&= same;
  console.log(`${folder}/: ${actual.length} lines, ${ids.length - new Set(ids).size} duplicates, identical to uninterrupted: ${same}`);
}
console.log(`${killed} SIGKILLs over ${attempts} invocations; outputs identical: ${identical}`);
if (!identical) process.exitCode = 1;
