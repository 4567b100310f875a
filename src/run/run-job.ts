/**
 * A durable run into an OUTDIR: validate the chain, open the input, check or create the ledger,
 * cut the shards back to what it committed, then stream source -> stages -> commit sink through
 * `node:stream` `pipeline()`. The same call on the same OUTDIR resumes.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Chain } from "../core/chain.js";
import { buildPlan, type ChainPlan } from "../core/plan.js";
import { checkServedModel } from "../engines/check-served-model.js";
import type { EngineConfig } from "../engines/engine.js";
import { ChainetteError } from "../errors.js";
import { isSeekableFile } from "../io/byte-stream.js";
import { countLines } from "../io/count-lines.js";
import { openSource } from "../io/open-source.js";
import type { OpenSourceOptions } from "../io/source.js";
import { Ledger } from "../ledger/ledger.js";
import { CommitSink } from "./commit-sink.js";
import { closeEngines, createPlanEngines } from "./create-engines.js";
import type { RunEvents, RunStatus } from "./events.js";
import { graphJson } from "./graph-json.js";
import { ParquetSealer } from "./parquet-sealer.js";
import { shardColumnsOf } from "./parquet-shard-columns.js";
import { recoverShards } from "./recover-shards.js";
import { forgetFailedRows } from "./retry-errors.js";
import { RunControl } from "./run-control.js";
import { identityChanges, runIdentity, type RunIdentity } from "./run-identity.js";
import { sourceRows } from "./source-rows.js";
import { buildStages, connectStages } from "./stages.js";
import { buildSummary, type RunSummary } from "./summary.js";
import { writeJsonAtomic } from "./write-json-atomic.js";

export interface RunJobOptions {
  chain: Chain;
  input: string;
  outDir: string;
  engines: readonly EngineConfig[];
  events: RunEvents;
  /** The command line, for graph.json and the resume hint. */
  invocation: readonly string[];
  /**
   * `parquet`: shards are `NNN.parquet` with columns typed from the output schemas, staged as JSONL
   * in `<dir>/.staging/` until they roll or the run ends (see docs/formats.md). @default "jsonl"
   */
  format?: "jsonl" | "parquet";
  /** Lines per shard file. @default 10_000 */
  maxLinesPerFile?: number;
  /** Rows per micro-batch. @default 256 */
  batchSize?: number;
  /** Requests in flight per engine when the engine does not set `concurrency`. @default 256 */
  concurrency?: number;
  /** Run the rows that failed in earlier sessions again (their records are removed first). @default false */
  retryErrors?: boolean;
  /** Discard an earlier run in OUTDIR. @default false */
  fresh?: boolean;
  source?: OpenSourceOptions;
  maxErrorRate?: number;
  /** How long requests wait while every endpoint of an engine is down. @default 300_000 */
  engineDownTimeoutMs?: number;
  /** Time between commits. @default 1000 */
  commitIntervalMs?: number;
  /**
   * Count a JSONL input's lines in the background so progress has a total (and an ETA). Off for
   * `--quiet`, which shows no progress: the count would only take time from the run. @default true
   */
  countTotal?: boolean;
  control?: RunControl;
}

export interface RunJobResult {
  status: RunStatus;
  summary: RunSummary;
  error?: unknown;
}

/** Files and folders a run owns in OUTDIR (what `--fresh` removes). */
const RUN_FILES = ["ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm", "graph.json", "summary.json", "flattened", "errors"];

export async function runJob(options: RunJobOptions): Promise<RunJobResult> {
  const started = performance.now();
  const format = options.format ?? "jsonl";
  const plan = buildPlan(options.chain, { engineNames: new Set(options.engines.map((engine) => engine.name)) });
  const source = await openSource(options.input, options.source ?? {});
  const inputFingerprint = await source.fingerprint();
  const identity = runIdentity(plan, inputFingerprint, format);

  prepareOutDir(options.outDir, plan, options.fresh ?? false);
  const ledger = Ledger.open(join(options.outDir, "ledger.sqlite"));
  try {
    // A refused resume leaves the OUTDIR exactly as it was: no session, no summary rewritten.
    checkIdentity(ledger, identity);
  } catch (error) {
    ledger.close();
    throw error;
  }
  const control = options.control ?? new RunControl();
  // Everything the run starts listens to this, so the run's end (any end) cancels what is left.
  const scope = control.runScope();
  let status: RunStatus = "failed";
  let failure: unknown;
  let sessionRows = 0;
  let sourceExhausted = false;
  let engines: Awaited<ReturnType<typeof createPlanEngines>> | undefined;
  let sink: CommitSink | undefined;
  const maxLinesPerFile = options.maxLinesPerFile ?? 10_000;
  const session = ledger.startSession();
  try {
    const dirs = [...plan.nodes.map((node) => node.id), "flattened", "errors"];
    recoverShards(options.outDir, dirs, ledger.shards(), format);
    if (options.retryErrors) {
      if (format !== "jsonl") throw new ChainetteError("USAGE", "--retry-errors works on --format jsonl runs only (sealed Parquet shards cannot be edited in place yet)");
      forgetFailedRows(options.outDir, ledger, maxLinesPerFile);
    }
    const parquet = format === "parquet" ? new ParquetSealer(options.outDir, ledger, shardColumnsOf(plan)) : undefined;
    // Shards an earlier session committed whole but did not seal (a crash, or rows since): seal them now.
    await parquet?.sealCommitted(maxLinesPerFile);
    writeJsonAtomic(join(options.outDir, "graph.json"), graphJson(plan, { engines: options.engines, invocation: options.invocation, input: inputFingerprint, format }));

    engines = createPlanEngines(plan, options.engines, {
      defaultConcurrency: options.concurrency ?? 256,
      onEvent: options.events.emit,
      ...(options.engineDownTimeoutMs === undefined ? {} : { engineDownTimeoutMs: options.engineDownTimeoutMs }),
    });
    const modelProblems = (await Promise.all([...engines.values()].map((engine) => checkServedModel(engine.config)))).flat();
    if (modelProblems.length > 0) throw new ChainetteError("ENGINE_CONFIG", modelProblems.join("\n"));
    const runtime = { engines, emit: options.events.emit, signal: scope.signal };
    const done = ledger.done();
    const total = await source.totalRows();
    options.events.emit({ type: "run-start", total, resumedRows: done.count(), nodes: plan.nodes.map((node) => node.id) });
    // Counting reads the whole file: never a pipe, which would lose those bytes to the count.
    if (total === undefined && options.countTotal !== false && source.format === "jsonl" && isSeekableFile(options.input)) {
      const limit = options.source?.limit;
      countLines(options.input, scope.signal).then(
        (lines) => options.events.emit({ type: "total", total: limit === undefined ? lines : Math.min(lines, limit) }),
        () => undefined, // only an estimate for the live view
      );
    }
    options.events.on((event) => {
      if (event.type === "commit") sessionRows += event.rows;
    });

    sink = new CommitSink({
      outDir: options.outDir,
      nodeIds: plan.nodes.map((node) => node.id),
      ledger,
      maxLinesPerFile,
      ...(parquet === undefined ? {} : { parquet }),
      emit: options.events.emit,
      ...(options.commitIntervalMs === undefined ? {} : { commitIntervalMs: options.commitIntervalMs }),
      ...(options.maxErrorRate === undefined ? {} : { maxErrorRate: options.maxErrorRate }),
    });
    const from = { row: done.watermark, ...(done.watermarkOffset === null ? {} : { offset: done.watermarkOffset }) };
    const rows = sourceRows(source, {
      from,
      isDone: done.cursor(),
      batchSize: options.batchSize ?? 256,
      stopRequested: () => control.stopRequested,
      emit: options.events.emit,
      onExhausted: () => (sourceExhausted = true),
      signal: scope.signal,
    });
    const stages = buildStages(plan, runtime, { concurrency: options.concurrency ?? 256 });
    const consumer = sink;
    await pipeline(connectStages(rows, stages), (leaves: AsyncIterable<import("./row.js").Row[]>) => consumer.consume(leaves));
    // A stop asked after the last row was read, whose rows all finished, completed the run.
    status = control.stopRequested && !sourceExhausted ? "stopped" : "complete";
  } catch (error) {
    failure = error;
    // Requests cancelled by a stop (a second Ctrl-C, the grace running out) are a stop, not a failure.
    const cancelled = !(error instanceof ChainetteError) || error.code === "ABORTED";
    status = control.stopRequested && cancelled ? "stopped" : "failed";
  } finally {
    // Requests still in flight belong to rows this session can no longer commit (an error-rate
    // stop, a failure elsewhere in the pipeline): cancel them rather than wait for their answers.
    scope.end(new ChainetteError("ABORTED", `the run ended (${status})`));
    control.dispose();
    if (engines) await closeEngines(engines);
  }
  // Parquet: whatever the ledger committed is sealed, whether the run completed, stopped or failed.
  try {
    await sink?.sealOpenShards();
  } catch (error) {
    if (failure === undefined) {
      failure = error;
      status = "failed";
    }
  }
  const wallMs = performance.now() - started;
  const resumeCommand = options.invocation.filter((part) => part !== "--fresh").join(" ");
  const summary = buildSummary(ledger, { chain: plan.name, status, complete: status === "complete", resumeCommand, sessionWallMs: wallMs, sessionRows });
  // On a full disk these can fail too; the ledger already holds every commit, so report and go on.
  try {
    writeJsonAtomic(join(options.outDir, "summary.json"), summary);
    ledger.endSession(session, status, sessionRows, wallMs);
  } catch (error) {
    failure ??= new ChainetteError("DISK", `cannot write summary.json or close the session: ${(error as Error).message}`, { cause: error });
  } finally {
    ledger.close();
  }
  options.events.emit({ type: "run-end", status });
  return failure === undefined ? { status, summary } : { status, summary, error: failure };
}

function checkIdentity(ledger: Ledger, identity: RunIdentity): void {
  const earlier = ledger.getMeta<RunIdentity>("identity");
  if (earlier === undefined) {
    ledger.setMeta("identity", identity);
    return;
  }
  const changes = identityChanges(earlier, identity);
  if (changes.length > 0) {
    throw new ChainetteError("RUN_CHANGED", `the OUTDIR holds a run whose results this run cannot reuse:\n${changes.map((change) => `  - ${change}`).join("\n")}\nRun with --fresh to discard it, or pick another OUTDIR.`);
  }
}

function prepareOutDir(outDir: string, plan: ChainPlan, fresh: boolean): void {
  if (fresh && existsSync(outDir)) {
    const owned = new Set([...RUN_FILES, ...plan.nodes.map((node) => node.id)]);
    for (const name of readdirSync(outDir)) if (owned.has(name) || name.endsWith(".tmp")) rmSync(join(outDir, name), { recursive: true, force: true });
  }
  if (existsSync(outDir) && !existsSync(join(outDir, "ledger.sqlite"))) {
    const entries = readdirSync(outDir);
    if (entries.length > 0) {
      throw new ChainetteError("USAGE", `${outDir} is not empty and holds no chainette-stream run (no ledger.sqlite); pick an empty or new OUTDIR`);
    }
  }
  mkdirSync(outDir, { recursive: true });
}
