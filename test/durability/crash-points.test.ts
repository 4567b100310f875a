/**
 * Exactly-once at every crash point (src/crash-points.ts): for each named point in the commit
 * protocol, a run is SIGKILLed exactly there (CHAINETTE_CRASH_AT, aimed mid-run from the passes an
 * uninterrupted run made), then resumed, with the same settings and with other window sizes; every
 * output folder must then equal the uninterrupted run's, row by row, and the durable-operation
 * trace of all the sessions must keep the protocol's order. A point added to CRASH_POINTS is
 * tested here without a change (one never reached fails: the child must die by SIGKILL).
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CRASH_POINTS, type CrashPointName } from "../../src/crash-points.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { parquetRecords } from "../formats/format-helpers.js";
import { duckdbRows } from "../io/duckdb-query.js";
import { durableTraceViolations, pointPasses, readTrace } from "../helpers/check-durable-trace.js";
import { questionLines, runCli, type CliResult } from "../helpers/cli.js";
import { checkExactlyOnce, checkShardSizes } from "../helpers/exactly-once.js";

type Kind = "jsonl" | "parquet" | "retry" | "rerun";
/** A rerun (docs/cache.md): the finished reference run, with its first step changed. */
const rerunEnv = { QA_PROMPT: "Answer this question: {{text}}" };
const rows = 240;
const maxLines = 25;
const qaNodes = ["qa", "count", "keep", "split"];
const typedFolders = ["judge", "measure", "flattened", "errors"];
const window = { same: ["--concurrency", "16", "--batch-size", "16"], small: ["--concurrency", "4", "--batch-size", "4"] };

// Llama-3.1-8B-on-H100 timings, 10x faster: with 16 requests in flight a run takes ~2.5 s, so the
// 1 s commit cadence commits mid-run. (Replies depend on the request and the seed only.)
const simulatorOptions = { port: 0, model: "sim-model", timeScale: 10 };
let simulator: Simulator;
let faulty: Simulator;
let work: string;
let questions: string;
let prompts: string;
/** The uninterrupted runs: OUTDIR and the passes each crash point had in them. */
const references = new Map<Kind, { out: string; passes: Map<string, number> }>();
/** The first session of every `--retry-errors` scenario: a run in which a third of the requests failed. */
let retryBase: string;

function args(kind: Kind, out: string, settings: readonly string[]): string[] {
  // Commits every 100 ms: a run of a few seconds commits many times, so crash points land mid-run.
  const common = ["-o", out, "--max-lines-per-file", String(maxLines), "--commit-interval", "100", "--quiet", ...settings];
  if (kind === "parquet") return ["run", "test/fixtures/chains/typed-chain.ts", "-i", prompts, "--format", "parquet", ...common];
  return ["run", "test/fixtures/chains/qa-chain.ts", "-i", questions, ...common, ...(kind === "retry" ? ["--retry-errors"] : [])];
}

const traced = (trace: string, extra: Record<string, string> = {}, server = simulator): Record<string, string> => ({ SIM_URL: server.url, CHAINETTE_DURABLE_TRACE: trace, ...extra });
const kindEnv = (kind: Kind): Record<string, string> => (kind === "rerun" ? rerunEnv : {});

function expectExit0(result: CliResult, what: string): void {
  expect(result.signal, `${what}: ${result.stderr}`).toBeNull();
  expect(result.code, `${what}: ${result.stderr}`).toBe(0);
}

beforeAll(async () => {
  simulator = await startSimulator(simulatorOptions);
  faulty = await startSimulator({ port: 0, model: "sim-model", profile: "instant" });
  // A third of the requests answered 429 with no retry allowed: those rows fail (as in retry-errors.test.ts).
  faulty.setFaults({ http429: 0.3 });
  work = mkdtempSync(join(tmpdir(), "crash-points-"));
  questions = join(work, "questions.jsonl");
  writeFileSync(questions, questionLines(rows));
  prompts = join(work, "prompts.jsonl");
  writeFileSync(prompts, Array.from({ length: rows }, (_, index) => `${JSON.stringify({ prompt: `Prompt number ${index}: is this safe?${"!".repeat(index % 11)}` })}\n`).join(""));
  retryBase = join(work, "retry-base");
  const [jsonl, parquet, base] = await Promise.all([
    runCli(args("jsonl", join(work, "reference-jsonl"), window.same), { env: traced(join(work, "reference-jsonl.trace")) }),
    runCli(args("parquet", join(work, "reference-parquet"), window.same), { env: traced(join(work, "reference-parquet.trace")) }),
    runCli(args("jsonl", retryBase, window.same), { env: { SIM_URL: faulty.url, SIM_MAX_RETRIES: "0", CHAINETTE_DURABLE_TRACE: `${retryBase}.trace` } }),
  ]);
  expectExit0(jsonl, "reference run");
  expectExit0(parquet, "Parquet reference run");
  expectExit0(base, "run with failing rows");
  references.set("jsonl", { out: join(work, "reference-jsonl"), passes: pointPasses(readTrace(join(work, "reference-jsonl.trace"))) });
  references.set("parquet", { out: join(work, "reference-parquet"), passes: pointPasses(readTrace(join(work, "reference-parquet.trace"))) });
  // The uninterrupted --retry-errors session, for the passes its points make.
  const retried = join(work, "reference-retry");
  copyRetryBase(retried);
  const retry = await runCli(args("retry", retried, window.same), { env: traced(join(work, "reference-retry.trace")) });
  expectExit0(retry, "uninterrupted --retry-errors session");
  // Its trace starts with the base run's (copied): count the --retry-errors session's passes only.
  const basePids = new Set(readTrace(`${retryBase}.trace`).map((event) => event.pid));
  references.set("retry", { out: retried, passes: pointPasses(readTrace(join(work, "reference-retry.trace")).filter((event) => !basePids.has(event.pid))) });
  // The uninterrupted rerun of the finished reference run with its first step changed.
  const rerun = join(work, "reference-rerun");
  copyRun(join(work, "reference-jsonl"), rerun);
  const rerunResult = await runCli(args("rerun", rerun, window.same), { env: traced(`${rerun}.trace`, rerunEnv) });
  expectExit0(rerunResult, "uninterrupted rerun");
  expect(rerunResult.stderr).toContain("node `qa` changed");
  const jsonlPids = new Set(readTrace(join(work, "reference-jsonl.trace")).map((event) => event.pid));
  references.set("rerun", { out: rerun, passes: pointPasses(readTrace(`${rerun}.trace`).filter((event) => !jsonlPids.has(event.pid))) });
}, 90_000);

/** A copy of a run and of its trace, with the paths moved to the copy. */
function copyRun(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
  writeFileSync(`${to}.trace`, readFileSync(`${from}.trace`, "utf8").replaceAll(`${from}/`, `${to}/`));
}

/** A copy of the run with failed rows, and of its trace with the paths moved to the copy. */
function copyRetryBase(out: string): void {
  cpSync(retryBase, out, { recursive: true });
  writeFileSync(`${out}.trace`, readFileSync(`${retryBase}.trace`, "utf8").replaceAll(`${retryBase}/`, `${out}/`));
}

afterAll(async () => {
  await simulator.close();
  await faulty.close();
  rmSync(work, { recursive: true, force: true });
});

/** Where a point is reached: Parquet sealing, a --retry-errors session, or any JSONL run. */
function kindOf(point: CrashPointName): Kind {
  if (point.startsWith("seal-")) return "parquet";
  if (point.startsWith("retry-")) return "retry";
  if (point.startsWith("rerun-")) return "rerun";
  return "jsonl";
}

/** The CHAINETTE_CRASH_AT values of the crashing sessions, one per session, aimed mid-run. */
function crashes(point: CrashPointName, kind: Kind): string[] {
  const passes = (name: CrashPointName): number => references.get(kind)?.passes.get(name) ?? 0;
  // Recovery cuts back torn tails. A crash right after the first commit, then a resume killed a few
  // writes in (appending to the committed last shards), leaves them whatever this machine's speed;
  // the next resume dies while cutting them back.
  if (point === "recovery-truncated") return ["ledger-committed:1", "shard-written:3", "recovery-truncated:1"];
  const count = passes(point);
  expect(count, `no uninterrupted ${kind} run passes crash point ${point}: give it a scenario`).toBeGreaterThan(0);
  // summary.json is the last pass (graph.json the first).
  if (point === "json-temp-written") return [`${point}:${count}`];
  // 40% of the passes: mid-run, and still reached when this run's timing makes fewer commits or batches.
  return [`${point}:${Math.max(1, Math.floor(count * 0.4))}`];
}

interface Scenario {
  point: CrashPointName;
  kind: Kind;
  resume: keyof typeof window;
}

const scenarios: Scenario[] = [
  ...CRASH_POINTS.flatMap((point): Scenario[] =>
    kindOf(point) === "retry" ? [{ point, kind: "retry", resume: "same" }] : [{ point, kind: kindOf(point), resume: "same" }, { point, kind: kindOf(point), resume: "small" }],
  ),
  // The commit protocol inside a --retry-errors session (the rows it runs again).
  ...(["shard-written", "shard-synced", "ledger-in-transaction", "ledger-committed"] as const).map((point): Scenario => ({ point, kind: "retry", resume: "same" })),
  // A kill in the middle of a rerun's session, after its discard, is an ordinary resume of the new run.
  ...(["shard-synced", "ledger-committed"] as const).map((point): Scenario => ({ point, kind: "rerun", resume: "same" })),
];

async function compareWithReference(kind: Kind, out: string): Promise<void> {
  const reference = references.get(kind === "parquet" ? "parquet" : kind === "rerun" ? "rerun" : "jsonl")?.out ?? "";
  if (kind === "parquet") {
    for (const folder of typedFolders) {
      expect(await parquetRecords(out, folder), `${folder}/ differs from the uninterrupted run`).toEqual(await parquetRecords(reference, folder));
      expect(existsSync(join(out, folder, ".staging")), `${folder}/.staging left behind`).toBe(false);
      expect(readdirSync(join(out, folder)).filter((name) => !/^\d{3}\.parquet$/.test(name)), `${folder}/ holds other files`).toEqual([]);
      const counts = await duckdbRows(`SELECT filename, count(*)::INTEGER AS n FROM read_parquet('${join(out, folder)}/*.parquet', filename = true) GROUP BY filename ORDER BY filename`);
      checkShardSizes(counts.map((row) => Number(row.n)), maxLines, folder);
    }
    return;
  }
  const expected = checkExactlyOnce(reference, qaNodes);
  const actual = checkExactlyOnce(out, qaNodes);
  for (const folder of [...qaNodes, "flattened", "errors"]) {
    expect(actual.byFolder.get(folder), `${folder}/ differs from the uninterrupted fault-free run`).toEqual(expected.byFolder.get(folder));
    const files = existsSync(join(out, folder)) ? readdirSync(join(out, folder)).sort() : [];
    expect(files.filter((name) => !/^\d{3}\.jsonl$/.test(name)), `${folder}/ holds other files`).toEqual([]);
    checkShardSizes(files.map((name) => readFileSync(join(out, folder, name), "utf8").split("\n").length - 1), maxLines, folder);
  }
}

describe.concurrent("a SIGKILL at each crash point, then a resume", () => {
  for (const scenario of scenarios) {
    const { point, kind, resume } = scenario;
    it(`${point} (${kind === "retry" ? "during --retry-errors" : kind === "rerun" ? "during a rerun after a chain change" : kind}), resumed with ${resume === "same" ? "the same settings" : "--concurrency 4 --batch-size 4"}`, async () => {
      const out = join(work, `${point}-${kind}-${resume}`);
      const trace = `${out}.trace`;
      // One simulator per scenario: scenarios run side by side, and a shared one would slow them all
      // down (its latency grows with the requests in flight, as vLLM's does).
      const server = await startSimulator(simulatorOptions);
      try {
      if (kind === "retry") {
        copyRetryBase(out);
      }
      if (kind === "rerun") copyRun(join(work, "reference-jsonl"), out);
      for (const crashAt of crashes(point, kind)) {
        const crashed = await runCli(args(kind, out, window.same), { env: traced(trace, { ...kindEnv(kind), CHAINETTE_CRASH_AT: crashAt }, server) });
        expect(crashed.signal, `CHAINETTE_CRASH_AT=${crashAt} did not kill the run (exit ${crashed.code}): ${crashed.stderr}`).toBe("SIGKILL");
      }
      const resumed = await runCli(args(kind, out, window[resume]), { env: traced(trace, kindEnv(kind), server) });
      expectExit0(resumed, "resume");
      } finally {
        await server.close();
      }
      await compareWithReference(kind, out);
      expect(durableTraceViolations(readTrace(trace), kind === "parquet" ? "parquet" : "jsonl")).toEqual([]);
      if (kind === "rerun") expect(existsSync(join(out, "rerun.json")), "the rerun's marker is left").toBe(false);
    }, 90_000);
  }
});

describe("the durable-operation trace of uninterrupted runs", () => {
  it("syncs every length before the ledger records it and deletes nothing the ledger lists", () => {
    for (const [name, format, rowsOut] of [["reference-jsonl", "jsonl", "qa"], ["reference-parquet", "parquet", "judge"], ["reference-retry", "jsonl", "qa"]] as const) {
      const events = readTrace(join(work, `${name}.trace`));
      expect(events.filter((event) => event.op === "ledger-commit" && event.shards.length > 0).length, `${name}: no ledger commit traced`).toBeGreaterThan(1);
      expect(events.some((event) => event.op === "fdatasync"), name).toBe(true);
      expect(durableTraceViolations(events, format), name).toEqual([]);
      expect(existsSync(join(work, name, rowsOut)), name).toBe(true);
    }
    expect(readTrace(join(work, "reference-retry.trace")).some((event) => event.op === "ledger-swap"), "the --retry-errors session swapped no shard list").toBe(true);
  });
});

describe("a committed byte changed behind the ledger's back", () => {
  it("makes the resume refuse, naming the checksum", async () => {
    const out = join(work, "flipped");
    cpSync(references.get("jsonl")?.out ?? "", out, { recursive: true });
    const shard = join(out, "qa", "000.jsonl");
    const bytes = readFileSync(shard);
    const at = bytes.indexOf('"answer":"') + '"answer":"'.length;
    bytes[at] = bytes[at] === 0x41 ? 0x42 : 0x41; // same length, still valid JSON
    writeFileSync(shard, bytes);
    const resumed = await runCli(args("jsonl", out, window.same), { env: { SIM_URL: simulator.url } });
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toContain("does not match the checksum");
  });
});
