/**
 * Phase 3 of a durable run: start the engines, then stream source -> stages -> gather -> commit
 * sink through `node:stream` `pipeline()`, from the ledger's watermark, skipping rows already done.
 * Returns how the session ended; the commit sink has committed everything that finished.
 */
import { resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { CommitSink } from "../durability/commit-sink.js";
import { RequestTally } from "../durability/request-tally.js";
import type { ParquetSealer } from "../durability/parquet-sealer.js";
import { checkServedModel } from "../engines/check-served-model.js";
import { ChainetteError } from "../errors.js";
import { isSeekableFile } from "../io/byte-stream.js";
import { countLines } from "../io/count-lines.js";
import type { SourcePosition } from "../io/source.js";
import { closeEngines, createPlanEngines } from "../pipeline/create-engines.js";
import type { RunStatus } from "../pipeline/events.js";
import { gatherRoots } from "../pipeline/gather-roots.js";
import type { ReplyCache } from "../pipeline/reply-cache.js";
import { reportFailures } from "../pipeline/report-failures.js";
import { sourceRows } from "../pipeline/source-rows.js";
import { buildStages, connectStages } from "../pipeline/stages.js";
import type { OpenRun } from "./open-run.js";
import type { RunControl } from "./run-control.js";
import type { RunJobOptions } from "./run-job.js";

export interface SessionOutcome {
  status: RunStatus;
  /** Why the session did not complete, when it did not. */
  failure: unknown;
  /** The sink, for sealing what it committed once the session is over. */
  sink: CommitSink | undefined;
}

function sourcePosition(position: { row: number; offset: number | null }): SourcePosition {
  return position.offset === null ? { row: position.row } : { row: position.row, offset: position.offset };
}

/** What stopped the session, read from its `RunControl` (see `sessionReason`). */
export function stopOf(control: RunControl): { reason: string | undefined; abandoned: string | undefined } {
  const { signal } = control;
  return { reason: control.reason, abandoned: signal.aborted ? (signal.reason instanceof Error ? signal.reason.message : String(signal.reason)) : undefined };
}

export async function executeRun(run: OpenRun, options: RunJobOptions, context: { control: RunControl; parquet: ParquetSealer | undefined; maxLinesPerFile: number; cache?: ReplyCache | undefined }): Promise<SessionOutcome> {
  const { plan, source, ledger } = run;
  const { control } = context;
  // Everything the run starts listens to this, so the run's end (any end) cancels what is left.
  const scope = control.runScope();
  let status: RunStatus = "failed";
  let failure: unknown;
  let sourceExhausted = false;
  let engines: Awaited<ReturnType<typeof createPlanEngines>> | undefined;
  let sink: CommitSink | undefined;
  const tally = new RequestTally();
  const stopTally = options.events.on(tally.onEvent);
  try {
    engines = createPlanEngines(plan, options.engines, {
      defaultConcurrency: options.concurrency ?? 256,
      onEvent: options.events.emit,
      usedBy: resolve(options.outDir),
      ...(options.engineDownTimeoutMs === undefined ? {} : { engineDownTimeoutMs: options.engineDownTimeoutMs }),
    });
    const modelProblems = (await Promise.all([...engines.values()].map((engine) => checkServedModel(engine.config)))).flat();
    if (modelProblems.length > 0) throw new ChainetteError("ENGINE_CONFIG", modelProblems.join("\n"));
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
    sink = new CommitSink({
      outDir: options.outDir,
      nodeIds: plan.nodes.map((node) => node.id),
      ledger,
      maxLinesPerFile: context.maxLinesPerFile,
      ...(context.parquet === undefined ? {} : { parquet: context.parquet }),
      emit: options.events.emit,
      ...(options.commitIntervalMs === undefined ? {} : { commitIntervalMs: options.commitIntervalMs }),
      ...(options.maxErrorRate === undefined ? {} : { maxErrorRate: options.maxErrorRate }),
      writeFiltered: options.writeFiltered ?? false,
      tally,
      ...(options.circuitBreaker === undefined ? {} : { circuitBreaker: options.circuitBreaker }),
    });
    const rows = sourceRows(source, {
      from: sourcePosition(done.resumePosition(run.shard?.firstRow)),
      isDone: done.cursor(),
      batchSize: options.batchSize ?? 256,
      stopRequested: () => control.stopRequested,
      emit: options.events.emit,
      onExhausted: () => (sourceExhausted = true),
      signal: scope.signal,
    });
    const runtime = { engines, emit: options.events.emit, signal: scope.signal, ...(context.cache === undefined ? {} : { cache: context.cache }) };
    const stages = buildStages(plan, runtime, { concurrency: options.concurrency ?? 256 });
    const consumer = sink;
    const leaves = connectStages(rows, stages);
    await pipeline(gatherRoots(options.events.wants("row-failed") ? reportFailures(leaves, options.events.emit) : leaves), (roots) => consumer.consume(roots));
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
    stopTally();
    control.dispose();
    if (engines) await closeEngines(engines);
  }
  return { status, failure, sink };
}
