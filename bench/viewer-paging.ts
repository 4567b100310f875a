/**
 * Issue 15: the viewer stays fast at a million rows. A 1M-row apply-only run and a 20k-row one
 * (the same 10k-line shards, two of them) are made with the real CLI, in each output format, each
 * is served by `chainette-stream view`, and the same requests are timed against both sizes in this
 * run: the page load (the page's files and the API calls it makes on load: runs, state, rollups,
 * errors, the rows' tail), a page of 50 rows from a random cursor, the page before it, and a row's
 * detail by id (which reads the shards holding that row: its cost follows --max-lines-per-file,
 * not the run's size). With `--format parquet` the shards are sealed Parquet files, read a row
 * group at a time. The 20k-row run is the baseline: the ratio says how much the cost grows with
 * the run's size (budget: <= 2x), next to absolute budgets.
 *   npm run build && node --import tsx bench/viewer-paging.ts [rows] [jsonl,parquet]
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { benchData, generateLines } from "./bench-data.js";
import { table } from "./measure.js";

const root = join(import.meta.dirname, "..");
const rows = Number(process.argv[2] ?? 1_000_000);
const formats = (process.argv[3] ?? "jsonl,parquet").split(",");
const rounds = Number(process.env.BENCH_RUNS ?? 200);
const words = ["stream", "batch", "token", "shard", "ledger", "commit", "vector", "engine", "schema", "resume"];

async function makeRun(count: number, format: string): Promise<string> {
  const input = await generateLines(`viewer-${count}.jsonl`, count, (i) => {
    const text = Array.from({ length: 24 }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(" ");
    return JSON.stringify({ id: i, text, tags: ["a", `t${i % 17}`, `u${i % 5}`], score: (i % 1000) / 1000, source: "bench" });
  });
  const out = join(benchData, format === "jsonl" ? `out-viewer-${count}` : `out-viewer-${count}-${format}`);
  if (!existsSync(join(out, "summary.json"))) {
    rmSync(out, { recursive: true, force: true });
    execFileSync(process.execPath, [join(root, "dist/cli/main.js"), "run", join(root, "bench/chains/apply-only.ts"), "-i", input, "-o", out, "--quiet", "--format", format], { stdio: "inherit" });
  }
  return out;
}

async function serve(out: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [join(root, "dist/cli/main.js"), "view", out, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const match = /on (http:\/\/\S+?)\/ /.exec(text);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.on("exit", () => reject(new Error("the viewer exited")));
  });
  return { url, stop: () => child.kill("SIGINT") };
}

async function get(url: string): Promise<string> {
  const response = await fetch(url);
  const body = await response.text();
  if (!response.ok) throw new Error(`${url}: ${response.status} ${body}`);
  return body;
}

async function time(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

const quantile = (values: number[], q: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))] ?? Number.NaN;

interface Timings { load: number[]; page: number[]; previous: number[]; detail: number[] }

async function measureRun(out: string, count: number): Promise<Timings> {
  const viewer = await serve(out);
  try {
    const { url } = viewer;
    const timings: Timings = { load: [], page: [], previous: [], detail: [] };
    const state = JSON.parse(await get(`${url}/api/state`)) as { tiles: { done: number } };
    if (state.tiles.done !== count) throw new Error(`the run holds ${state.tiles.done} rows, not ${count}`);
    const shards = Math.ceil(count / 10_000);
    for (let round = 0; round < rounds; round++) {
      if (round % 10 === 0) {
        timings.load.push(await time(() => Promise.all(["/", "/viewer.js", "/viewer.css", "/api/runs", "/api/state?run=0", "/api/rollups?run=0", "/api/errors?run=0", "/api/rows?run=0&folder=flattened&limit=50"].map((path) => get(`${url}${path}`)))));
      }
      // A random shard, then the page that follows the first one in it (a cursor the page itself made).
      const seq = (round * 7919) % shards;
      const first = JSON.parse(await get(`${url}/api/rows?folder=flattened&after=${seq}:0&limit=50`)) as { next: string };
      let previous = "";
      timings.page.push(await time(async () => (previous = (JSON.parse(await get(`${url}/api/rows?folder=flattened&after=${first.next}&limit=50`)) as { previous: string }).previous)));
      timings.previous.push(await time(() => get(`${url}/api/rows?folder=flattened&before=${previous}&limit=50`)));
      timings.detail.push(await time(() => get(`${url}/api/row?id=${(round * 104_729) % count}`)));
    }
    return timings;
  } finally {
    viewer.stop();
  }
}

const baseRows = 20_000;
const budgets: Record<keyof Timings, number> = { load: 300, page: 25, previous: 25, detail: 100 };
const names: Record<keyof Timings, string> = { load: "page load (3 files + 5 API calls)", page: "next page of 50 rows", previous: "previous page of 50 rows", detail: "a row's detail by id" };
for (const format of formats) {
  const small = await measureRun(await makeRun(baseRows, format), baseRows);
  const large = await measureRun(await makeRun(rows, format), rows);
  const lines = (Object.keys(budgets) as (keyof Timings)[]).map((key) => {
    const p50 = quantile(large[key], 0.5);
    const base = quantile(small[key], 0.5);
    return [names[key], `${p50.toFixed(1)} ms`, `${quantile(large[key], 0.99).toFixed(1)} ms`, `${base.toFixed(1)} ms`, (p50 / base).toFixed(2), `p50 <= ${budgets[key]} ms, ratio <= 2`, p50 <= budgets[key] && p50 / base <= 2 ? "ok" : "OVER"];
  });
  console.log(table([`viewer, ${rows} rows, ${format}`, "p50", "p99", `p50 at ${baseRows / 1000}k rows`, "ratio", "budget", ""], lines));
}
