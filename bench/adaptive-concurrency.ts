/**
 * Issue 14: adaptive concurrency, endpoint routing and prefix affinity, each against a baseline
 * measured in the same run. The engine runs in this process (as in a `run`), each simulator in a
 * child process of its own.
 *   node --import tsx bench/adaptive-concurrency.ts [scenarios=queue,split,affinity,neighbour]
 * - queue: a 32-slot server, default engine settings (ceiling 256) vs a fixed 256 in flight:
 *   median requests waiting in the server's queue (sampled from /metrics every 50 ms) and
 *   throughput as a share of the fixed run's (which keeps every slot busy by flooding the queue).
 * - split: two servers of 640 and 320 req/s (128 and 64 slots x 200 ms): throughput vs their sum.
 * - affinity: two prefix-caching servers, documents of 8,000 characters with three questions each:
 *   throughput and prefix-cache hit rate, prefix affinity on vs off.
 * - neighbour: a second client sending one request every 100 ms beside our run: its median and p95
 *   latency alone, beside a run at a fixed 256, beside a run with the defaults.
 * Rates are in model time (wall rate / time scale).
 */
import { createEngine } from "../src/engines/create-engine.js";
import type { Engine, EngineConfig, GenerateRequest } from "../src/engines/engine.js";
import { parseServerLoad } from "../src/engines/server-load.js";
import type { SimulatorOptions } from "../src/sim/index.js";
import { table } from "./measure.js";
import { withSimulatorProcess } from "./sim-process.js";

const wanted = new Set((process.argv[2] ?? "queue,split,affinity,neighbour").split(","));
const model = "bench-model";

async function withSims<T>(options: SimulatorOptions[], run: (urls: string[]) => Promise<T>): Promise<T> {
  const [first, ...rest] = options;
  if (first === undefined) return run([]);
  return withSimulatorProcess({ port: 0, model, ...first }, (url) => withSims(rest, (urls) => run([url, ...urls])));
}

function engineFor(urls: string[], config: Partial<EngineConfig> = {}): Engine {
  return createEngine({ name: "bench", backend: "vllm_api", model, endpoint: urls.map((url) => `${url}/v1`), concurrency: 256, ...config });
}

/** Keeps `outstanding` calls going until `total` finished; returns wall seconds. */
async function drive(engine: Engine, total: number, outstanding: number, request: (index: number) => GenerateRequest, finishedAt: number[] = []): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      await engine.generate(request(next++));
      finishedAt.push(performance.now());
    }
  };
  await Promise.all(Array.from({ length: outstanding }, () => worker()));
  return (performance.now() - started) / 1000;
}

/** Completions per wall second between the 20th and the 90th percentile of completion times (past the start-up, before the tail). */
function sustained(finishedAt: number[]): number {
  const from = Math.floor(finishedAt.length * 0.2);
  const to = Math.floor(finishedAt.length * 0.9);
  return ((to - from) * 1000) / ((finishedAt[to] ?? 0) - (finishedAt[from] ?? 0));
}

/** Samples the server's waiting queue every 50 ms while `work` runs. */
async function sampleWaiting<T>(url: string, work: Promise<T>): Promise<{ result: T; waiting: number[] }> {
  const waiting: number[] = [];
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const load = parseServerLoad(await (await fetch(`${url}/metrics`)).text());
      if (load !== undefined) waiting.push(load.waiting);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const result = await work.finally(() => (done = true));
  await sampler;
  return { result, waiting };
}

const quantile = (values: number[], q: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * q))] ?? Number.NaN;
const chat = (index: number, tokens: number): GenerateRequest => ({ messages: [{ role: "user", content: `Question ${index}: what happened next?` }], sampling: { maxTokens: tokens, extra: { ignore_eos: true } } });

const sections: string[] = [];

if (wanted.has("queue")) {
  const timeScale = 10;
  const sim: SimulatorOptions = { maxNumSeqs: 32, timeScale };
  const rows = 2000;
  const runs: [string, Partial<EngineConfig>][] = [["fixed 256 in flight", { adaptiveConcurrency: false }], ["defaults (adaptive, ceiling 256)", {}]];
  const results: { label: string; rate: number; waiting: number[] }[] = [];
  for (const [label, config] of runs) {
    const { result: seconds, waiting } = await withSims([sim], async ([url = ""]) => {
      const engine = engineFor([url], config);
      try {
        return await sampleWaiting(url, drive(engine, rows, 256, (index) => chat(index, 128)));
      } finally {
        await engine.close();
      }
    });
    results.push({ label, rate: rows / seconds / timeScale, waiting });
    console.error(`queue, ${label}: ${(rows / seconds / timeScale).toFixed(2)} req/s`);
  }
  const base = results[0]?.rate ?? Number.NaN;
  sections.push(
    `queue: 32-slot server (llama-3.1-8b-h100 profile, 128 output tokens), ${rows} requests, 256 calls outstanding, time scale ${timeScale}\n` +
      table(["engine", "req/s (model time)", "x fixed 256", "median waiting", "p90 waiting"], results.map(({ label, rate, waiting }) => [label, rate.toFixed(2), (rate / base).toFixed(3), quantile(waiting, 0.5), quantile(waiting, 0.9)])),
  );
}

if (wanted.has("split")) {
  // 200 ms per request at any load (no decode model): capacity = slots / 0.2 s.
  const timeScale = 0.25;
  const server = (maxNumSeqs: number): SimulatorOptions => ({ maxNumSeqs, timeScale, ttftOverheadMs: 200, prefillMsPerToken: 0, interTokenLatencyMs: 0, interTokenLatencyPerRunningMs: 0 });
  const rows = 3000;
  const finishedAt: number[] = [];
  const seconds = await withSims([server(128), server(64)], async (urls) => {
    const engine = engineFor(urls);
    try {
      return await drive(engine, rows, 512, (index) => chat(index, 1), finishedAt);
    } finally {
      await engine.close();
    }
  });
  const whole = rows / seconds / timeScale;
  const steady = sustained(finishedAt) / timeScale;
  console.error(`split: ${whole.toFixed(0)} req/s whole run, ${steady.toFixed(0)} sustained`);
  sections.push(
    `split: two servers of 640 and 320 req/s (128 and 64 slots x 200 ms), ${rows} requests, 512 calls outstanding, time scale ${timeScale}, default engine settings\n` +
      table(["capacity req/s", "sustained req/s (model time)", "share of capacity", "whole run incl. start and tail"], [[960, steady.toFixed(0), (steady / 960).toFixed(3), (whole / 960).toFixed(3)]]),
  );
}

if (wanted.has("affinity")) {
  // Time scale 2: about 150 requests a second of wall time, well within what this machine's cores
  // serve (at 10, the client and servers ran out of CPU and the figures measured that instead).
  const timeScale = 2;
  const server: SimulatorOptions = { maxNumSeqs: 64, timeScale, prefixCaching: true };
  const documents = 500;
  const questions = ["Who is it about?", "What happened?", "Where did it happen?"];
  const document = (index: number): string => `Document ${index}. ${"A long report on the state of the river, its banks and the towns along it. ".repeat(120)}`.slice(0, 8000);
  const results: { label: string; rate: number; hitRate: number }[] = [];
  for (const prefixAffinity of [false, true]) {
    const finishedAt: number[] = [];
    const { hits, queries } = await withSims([server, server], async (urls) => {
      const engine = engineFor(urls, { prefixAffinity });
      try {
        const seconds = await drive(engine, documents * questions.length, 128, (index) => ({
          messages: [{ role: "user", content: `${document(Math.floor(index / questions.length))}\n${questions[index % questions.length] ?? ""}` }],
          sampling: { maxTokens: 32, extra: { ignore_eos: true } },
        }), finishedAt);
        let hits = 0;
        let queries = 0;
        for (const url of urls) {
          const text = await (await fetch(`${url}/metrics`)).text();
          hits += Number(/^vllm:prefix_cache_hits_total\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
          queries += Number(/^vllm:prefix_cache_queries_total\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
        }
        return { seconds, hits, queries };
      } finally {
        await engine.close();
      }
    });
    const label = prefixAffinity ? "prefix affinity on (default)" : "prefix affinity off";
    results.push({ label, rate: sustained(finishedAt) / timeScale, hitRate: hits / Math.max(1, queries) });
    console.error(`affinity ${prefixAffinity}: ${results.at(-1)?.rate.toFixed(2)} req/s`);
  }
  const base = results[0]?.rate ?? Number.NaN;
  sections.push(
    `affinity: two prefix-caching 64-slot servers, ${documents} documents of 8,000 characters x ${questions.length} questions, 32 output tokens, 128 calls outstanding, time scale ${timeScale}\n` +
      table(["routing", "sustained req/s (model time)", "x affinity off", "prefix-cache hit rate (tokens)"], results.map(({ label, rate, hitRate }) => [label, rate.toFixed(2), (rate / base).toFixed(3), `${(hitRate * 100).toFixed(1)}%`])),
  );
}

if (wanted.has("neighbour")) {
  const timeScale = 10;
  const server: SimulatorOptions = { maxNumSeqs: 32, timeScale };
  const rows = 1500;
  const results: { label: string; latencies: number[] }[] = [];
  for (const [label, config] of [["alone", undefined], ["beside a fixed 256 in flight", { adaptiveConcurrency: false }], ["beside the defaults (adaptive)", {}]] as const) {
    const latencies = await withSims([server], async ([url = ""]) => {
      const neighbour = engineFor([url], { adaptiveConcurrency: false, concurrency: 4 });
      const ours = config === undefined ? undefined : engineFor([url], config);
      const measured: number[] = [];
      let done = false;
      const probe = (async () => {
        while (!done) {
          const started = performance.now();
          await neighbour.generate(chat(-1, 64));
          measured.push(((performance.now() - started) * timeScale) / 1000);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      try {
        if (ours === undefined) await new Promise((resolve) => setTimeout(resolve, 8000));
        else await drive(ours, rows, 256, (index) => chat(index, 128));
      } finally {
        done = true;
        await probe;
        await ours?.close();
        await neighbour.close();
      }
      return measured.slice(Math.floor(measured.length / 5));
    });
    results.push({ label, latencies });
    console.error(`neighbour, ${label}: median ${quantile(latencies, 0.5).toFixed(2)} s`);
  }
  sections.push(
    `neighbour: a second client (64-token requests, one at a time, every 100 ms of wall time) on a 32-slot server beside our run of ${rows} requests (128 tokens, 256 calls outstanding), time scale ${timeScale}; its latency in model seconds (first fifth dropped)\n` +
      table(["second client", "median latency s", "p95 latency s", "requests"], results.map(({ label, latencies }) => [label, quantile(latencies, 0.5).toFixed(2), quantile(latencies, 0.95).toFixed(2), latencies.length])),
  );
}

console.log(sections.join("\n\n"));
