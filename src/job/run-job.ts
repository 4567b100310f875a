/**
 * A durable run into an OUTDIR: validate the chain, open the input, take the OUTDIR's lock, check
 * or create the ledger, cut the shards back to what it committed, then stream source -> stages ->
 * commit sink through `node:stream` `pipeline()`. The same call on the same OUTDIR resumes.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Chain } from "../core/chain.js";
import { buildPlan, type ChainPlan } from "../core/plan.js";
import { checkServedModel } from "../engines/check-served-model.js";
import type { EngineConfig } from "../engines/engine.js";
import { redactUrls } from "../engines/redact-urls.js";
import { ChainetteError, isChainetteError } from "../errors.js";
import { isSeekableFile } from "../io/byte-stream.js";
import { countLines } from "../io/count-lines.js";
import { openSource } from "../io/open-source.js";
import type { InputFingerprint, OpenSourceOptions, Source } from "../io/source.js";
import { Ledger } from "../durability/ledger.js";
import { CommitSink } from "../durability/commit-sink.js";
import { closeEngines, createPlanEngines } from "../pipeline/create-engines.js";
import type { RunEvents, RunStatus } from "../pipeline/events.js";
import { graphJson } from "./graph-json.js";
import { lockOutDir, LOCK_FILE } from "../durability/outdir-lock.js";
import { ParquetSealer, STAGING_FOLDER } from "../durability/parquet-sealer.js";
import { shardColumnsOf } from "../durability/parquet-shard-columns.js";
import { recoverShards } from "../durability/recover-shards.js";
import { repairShards } from "../durability/repair-shards.js";
import { forgetFailedRows } from "../durability/retry-errors.js";
import { RunControl } from "./run-control.js";
import { checkRunIdentity, runIdentity, type RunIdentity } from "./run-identity.js";
import { sourceRows } from "../pipeline/source-rows.js";
import { buildStages, connectStages } from "../pipeline/stages.js";
import { buildSummary, REDACTED_NOTE, type RunSummary } from "./summary.js";
import { writeJsonAtomic } from "../durability/write-json-atomic.js";

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

/**
 * Takes OUTDIR's lock before anything else touches it (a second process, or a second call in this
 * one, is refused with OUTDIR_LOCKED), runs, and releases the lock however the run ends.
 */
export async function runJob(options: RunJobOptions): Promise<RunJobResult> {
  const started = performance.now();
  const plan = buildPlan(options.chain, { engineNames: new Set(options.engines.map((engine) => engine.name)) });
  const source = await openSource(options.input, options.source ?? {});
  const inputFingerprint = await source.fingerprint();
  // A folder that is not a run's is refused before the lock file is created in it.
  checkRunFolder(options.outDir, plan, options.fresh ?? false);
  mkdirSync(options.outDir, { recursive: true });
  const command = (options.invocation.length > 0 ? options.invocation : process.argv).map(redactUrls).join(" ");
  const lock = lockOutDir(options.outDir, command);
  try {
    return await runLockedJob(options, { started, plan, source, inputFingerprint });
  } finally {
    lock.release();
  }
}

async function runLockedJob(options: RunJobOptions, opened: { started: number; plan: ChainPlan; source: Source; inputFingerprint: InputFingerprint }): Promise<RunJobResult> {
  const { started, plan, source, inputFingerprint } = opened;
  const format = options.format ?? "jsonl";
  const identity = runIdentity(plan, inputFingerprint, format, options.engines);
  const invocation = options.invocation.map(redactUrls);
  const redacted = invocation.some((part, position) => part !== options.invocation[position]);

  prepareOutDir(options.outDir, plan, options.fresh ?? false);
  const ledger = Ledger.open(join(options.outDir, "ledger.sqlite"));
  try {
    // A refused resume leaves the OUTDIR exactly as it was: no session, no summary rewritten.
    // A ledger with no identity is a new run's, unless shards are already there: then it is an
    // emptied, truncated or replaced ledger, and recovery would delete rows it cannot account for.
    if (ledger.getMeta<RunIdentity>("identity") === undefined) refuseOrphanShards(ledger, options.outDir, outputFolders(plan));
    await checkRunIdentity(ledger, identity);
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
    if (options.repair && format !== "jsonl") throw new ChainetteError("USAGE", "--repair works on --format jsonl runs only (sealed Parquet shards are not rewritten); rerun with --fresh");
    const recovery = recoverShards(options.outDir, outputFolders(plan), ledger.shards(), format, { repair: options.repair ?? false });
    if (recovery.damaged.length > 0) {
      const repaired = repairShards(options.outDir, ledger, recovery.damaged, maxLinesPerFile);
      options.events.emit({ type: "shards-repair", shards: recovery.damaged.map(({ path }) => path), rows: repaired.roots });
    }
    if (options.retryErrors) {
      if (format !== "jsonl") throw new ChainetteError("USAGE", "--retry-errors works on --format jsonl runs only (sealed Parquet shards cannot be edited in place yet)");
      forgetFailedRows(options.outDir, ledger, maxLinesPerFile);
    }
    const parquet = format === "parquet" ? new ParquetSealer(options.outDir, ledger, shardColumnsOf(plan)) : undefined;
    // Shards an earlier session committed whole but did not seal (a crash, or rows since): seal them now.
    await parquet?.sealCommitted(maxLinesPerFile);
    writeJsonAtomic(join(options.outDir, "graph.json"), graphJson(plan, { engines: options.engines, invocation, input: inputFingerprint, format }));

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
    await pipeline(connectStages(rows, stages), (leaves: AsyncIterable<import("../pipeline/row.js").Row[]>) => consumer.consume(leaves));
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
  const resumeCommand = invocation.filter((part) => part !== "--fresh").join(" ");
  const resumeNote = redacted ? REDACTED_NOTE : undefined;
  const summary = buildSummary(ledger, { chain: plan.name, status, complete: status === "complete", resumeCommand, resumeNote, sessionWallMs: wallMs, sessionRows });
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

/** The folders a run writes shards to, which recovery cleans. */
function outputFolders(plan: ChainPlan): string[] {
  return [...plan.nodes.map((node) => node.id), "flattened", "errors"];
}

function refuseOrphanShards(ledger: Ledger, outDir: string, folders: readonly string[]): void {
  const orphans = shardFilesIn(outDir, folders);
  if (orphans.length === 0) return;
  const named = orphans.slice(0, 3).join(", ") + (orphans.length > 3 ? ` and ${orphans.length - 3} more` : "");
  throw new ChainetteError(
    "LEDGER_CORRUPT",
    `${ledger.path} records no run (an empty, truncated or replaced file), but OUTDIR holds shard files: ${named}. They were left as they are.\nWithout the ledger they cannot be accounted for: restore ledger.sqlite from a backup, or rerun with --fresh to discard them and start over.`,
  );
}

/** Shard files (`NNN.jsonl`, `NNN.parquet`, staged ones too) in these output folders, as `dir/name`. */
function shardFilesIn(outDir: string, dirs: readonly string[]): string[] {
  const found: string[] = [];
  for (const dir of dirs) {
    for (const folder of [dir, join(dir, STAGING_FOLDER)]) {
      const path = join(outDir, folder);
      if (!existsSync(path)) continue;
      for (const name of readdirSync(path)) if (SHARD_NAME.test(name)) found.push(join(folder, name));
    }
  }
  return found.sort();
}

const SHARD_NAME = /^\d+\.(jsonl|parquet)$/;

/** Entries of OUTDIR that belong to its lock, not to a run. */
const isLockEntry = (name: string): boolean => name.startsWith(LOCK_FILE);

/** Refuses a non-empty OUTDIR that holds no run (files a `--fresh` would delete do not count). */
function checkRunFolder(outDir: string, plan: ChainPlan, fresh: boolean): void {
  if (!existsSync(outDir) || existsSync(join(outDir, "ledger.sqlite"))) return;
  const owned = new Set([...RUN_FILES, ...plan.nodes.map((node) => node.id)]);
  const others = readdirSync(outDir).filter((name) => !isLockEntry(name) && !(fresh && (owned.has(name) || name.endsWith(".tmp"))));
  if (others.length > 0) {
    throw new ChainetteError("USAGE", `${outDir} is not empty and holds no chainette-stream run (no ledger.sqlite); pick an empty or new OUTDIR`);
  }
}

function prepareOutDir(outDir: string, plan: ChainPlan, fresh: boolean): void {
  const ledgerPath = join(outDir, "ledger.sqlite");
  if (fresh && existsSync(ledgerPath)) {
    // --fresh discards a run, damaged or not, but never another application's database.
    try {
      Ledger.open(ledgerPath, { readonly: true }).close();
    } catch (error) {
      if (isChainetteError(error, "LEDGER_FOREIGN")) throw error;
    }
  }
  if (fresh) {
    const owned = new Set([...RUN_FILES, ...plan.nodes.map((node) => node.id)]);
    for (const name of readdirSync(outDir)) if (owned.has(name) || name.endsWith(".tmp")) rmSync(join(outDir, name), { recursive: true, force: true });
  }
  checkRunFolder(outDir, plan, false);
}
