/**
 * A durable run into an OUTDIR, in four phases (one module each):
 *   1. `openRun`: plan the chain, open the input, take OUTDIR's lock, open the ledger, check identity;
 *   2. `recoverRun`: cut the shards back to what the ledger committed, `--repair`, `--retry-errors`;
 *   3. `executeRun`: stream source -> stages -> gather roots -> commit sink, from the watermark;
 *   4. `finishRun`: seal, write summary.json, close the session.
 * The same call on the same OUTDIR resumes. See docs/resume.md for the protocol and its invariants.
 */
import type { Chain } from "../core/chain.js";
import type { CircuitBreakerOptions } from "../durability/circuit-breaker.js";
import { ResponseCache } from "../durability/response-cache.js";
import type { EngineConfig } from "../engines/engine.js";
import type { OpenSourceOptions } from "../io/source.js";
import type { RunEvents, RunStatus } from "../pipeline/events.js";
import { executeRun, stopOf, type SessionOutcome } from "./execute-run.js";
import { finishRun, type SessionProgress } from "./finish-run.js";
import { openRun, type OpenRun } from "./open-run.js";
import { recoverRun } from "./recover-run.js";
import { RunControl } from "./run-control.js";
import { sessionReason } from "./session-reason.js";
import type { ShardSpec } from "./shard-spec.js";
import type { RunSummary } from "./summary.js";

export interface RunJobOptions {
  chain: Chain;
  input: string;
  outDir: string;
  engines: readonly EngineConfig[];
  events: RunEvents;
  /**
   * The command line, for graph.json and the resume hint. Credentials inside URLs in it (an
   * `--endpoint NAME=https://user:key@host`) are redacted before it is stored or shown.
   */
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
  /**
   * Redo the rows of committed shards that are damaged or missing (instead of refusing the resume):
   * those shards are dropped and their rows' records removed from every folder. JSONL only. @default false
   */
  repair?: boolean;
  /**
   * Write one record per filtered leaf to `filtered/` (`row_id`, the `node` that filtered it, the
   * chain `input`), through the same shards and commits as the other folders. Part of the run's
   * identity: a resume that turns it on or off is refused. @default false
   */
  writeFiltered?: boolean;
  /** Discard an earlier run in OUTDIR, and OUTDIR's own response cache (never a shared `cache` folder). @default false */
  fresh?: boolean;
  /**
   * The response cache: the folder of its `cache.sqlite` (shared by runs, OUTDIRs and processes),
   * or `false` for none (a changed chain is then refused, as nothing could be reused). A chain
   * without LLM steps never opens one. @default OUTDIR
   */
  cache?: string | false;
  source?: OpenSourceOptions;
  /**
   * `--shard I/N`: run part `index` of `count` of the input, keeping global row_ids; `outDir` is
   * then the shard's own run folder, and `jobDir` the job's OUTDIR (where the shards share their
   * row counts). See docs/scale-out.md.
   */
  shard?: ShardSpec & { jobDir: string };
  maxErrorRate?: number;
  /**
   * The circuit breaker: stop (resumably, `CIRCUIT_OPEN`) when more than `rate` of the last
   * `window` finished leaf rows failed; `false` turns it off. @default { window: 100, rate: 0.9 }
   */
  circuitBreaker?: CircuitBreakerOptions | false;
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

export async function runJob(options: RunJobOptions): Promise<RunJobResult> {
  const started = performance.now();
  const run = await openRun(options);
  try {
    const maxLinesPerFile = options.maxLinesPerFile ?? 10_000;
    const session: SessionProgress = { id: run.ledger.startSession(), started, rows: 0, inputRows: undefined };
    const stopCounting = options.events.on((event) => {
      if (event.type === "commit") session.rows += event.rows;
      // The input's size when the source knows it, or once the background count has it.
      else if (event.type === "run-start" || event.type === "total") session.inputRows = event.total ?? session.inputRows;
    });
    const control = options.control ?? new RunControl();
    let outcome: SessionOutcome;
    let cache: ResponseCache | undefined;
    try {
      const parquet = await recoverRun(run, options, maxLinesPerFile);
      cache = openResponseCache(run, options);
      outcome = await executeRun(run, options, { control, parquet, maxLinesPerFile, cache });
    } catch (error) {
      // Recovery failed (a damaged shard, a full disk): nothing ran, the session ends failed.
      control.dispose();
      outcome = { status: "failed", failure: error, sink: undefined };
    } finally {
      stopCounting?.();
      cache?.close();
    }
    return await finishRun(run, options, outcome, session, sessionReason(outcome.status, outcome.failure, stopOf(control)));
  } finally {
    run.lock.release();
  }
}

/** The response cache a run with LLM steps consults (`--cache DIR`, else OUTDIR's), unless `--no-cache`. */
function openResponseCache(run: OpenRun, options: RunJobOptions): ResponseCache | undefined {
  if (options.cache === false || !run.plan.nodes.some((node) => node.kind === "step")) return undefined;
  return ResponseCache.open(options.cache ?? options.outDir);
}
