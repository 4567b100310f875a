/**
 * Phase 1 of a durable run: plan the chain, open the input, take OUTDIR's lock, then open the
 * ledger and check the run's identity. Nothing in OUTDIR is changed before the lock is held, and a
 * refused resume leaves OUTDIR exactly as it was.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { buildPlan, type ChainPlan } from "../core/plan.js";
import { Ledger } from "../durability/ledger.js";
import { LOCK_FILE, lockOutDir, type OutDirLock } from "../durability/outdir-lock.js";
import { STAGING_FOLDER } from "../durability/parquet-sealer.js";
import { CACHE_FILES } from "../durability/response-cache.js";
import { redactUrls } from "../engines/redact-urls.js";
import { ChainetteError, isChainetteError } from "../errors.js";
import { openSource } from "../io/open-source.js";
import type { InputFingerprint, Source } from "../io/source.js";
import { openShardSource, type ShardMeta } from "./shard-input.js";
import type { RunJobOptions } from "./run-job.js";
import { beginGeneration, endGeneration, finishInterruptedGeneration, hasInterruptedGeneration, RERUN_MARKER } from "./new-generation.js";
import { rerunScope, type RerunScope } from "./rerun-scope.js";
import { checkRunIdentity, runIdentity, type GrownFile, type RunIdentity } from "./run-identity.js";

/** What the later phases work with. */
export interface OpenRun {
  plan: ChainPlan;
  source: Source;
  inputFingerprint: InputFingerprint;
  format: "jsonl" | "parquet";
  lock: OutDirLock;
  ledger: Ledger;
  /** `--shard`: the part of the input this run folder runs (its row_ids keep their place in the whole input). */
  shard?: ShardMeta;
  /** The command line with credentials in URLs redacted, and whether anything was. */
  invocation: string[];
  redacted: boolean;
  /** Set when this session started a new generation of results after a chain change. */
  rerun: (RerunScope & { changes: string[] }) | undefined;
  /** JSONL input files that grew since the last session: their new rows run now. */
  grown: readonly GrownFile[];
}

/** Files and folders a run owns in OUTDIR besides its node folders (what a rerun's discard removes). */
const RUN_FILES = ["ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm", "graph.json", "summary.json", "flattened", "errors", "filtered"];
/** What `--fresh` removes besides the node folders: the run's files and OUTDIR's own response cache. */
const FRESH_FILES = [...RUN_FILES, ...CACHE_FILES, RERUN_MARKER];

/** The folders a run writes shards to, which recovery cleans. */
export function outputFolders(plan: ChainPlan, writeFiltered = false): string[] {
  return [...plan.nodes.map((node) => node.id), "flattened", "errors", ...(writeFiltered ? ["filtered"] : [])];
}

export async function openRun(options: RunJobOptions): Promise<OpenRun> {
  const plan = buildPlan(options.chain, { engineNames: new Set(options.engines.map((engine) => engine.name)) });
  const writeFiltered = options.writeFiltered ?? false;
  if (writeFiltered && plan.nodes.some((node) => node.id === "filtered")) {
    throw new ChainetteError("USAGE", "--write-filtered writes the folder `filtered/`, which is also a node's id here; rename the node `filtered`");
  }
  if (options.shard !== undefined && options.source?.limit !== undefined) throw new ChainetteError("USAGE", "--limit and --shard do not go together: a shard runs its whole part of the input");
  const whole = await openSource(options.input, options.source ?? {});
  const inputFingerprint = await whole.fingerprint();
  const format = options.format ?? "jsonl";
  const invocation = options.invocation.map(redactUrls);
  const redacted = invocation.some((part, position) => part !== options.invocation[position]);
  // A folder that is not a run's is refused before the lock file is created in it.
  checkRunFolder(options.outDir, plan, options.fresh ?? false);
  mkdirSync(options.outDir, { recursive: true });
  const lock = lockOutDir(options.outDir, (invocation.length > 0 ? invocation : process.argv.map(redactUrls)).join(" "));
  try {
    prepareOutDir(options.outDir, plan, options.fresh ?? false);
    const ledgerPath = join(options.outDir, "ledger.sqlite");
    let ledger = Ledger.open(ledgerPath);
    const identity = runIdentity(plan, inputFingerprint, format, options.engines, writeFiltered, options.shard);
    let rerun: OpenRun["rerun"];
    let grown: readonly GrownFile[] = [];
    try {
      // A ledger with no identity is a new run's, unless shards are already there: then it is an
      // emptied, truncated or replaced ledger, and recovery would delete rows it cannot account for.
      if (ledger.getMeta<RunIdentity>("identity") === undefined) refuseOrphanShards(ledger, options.outDir, outputFolders(plan, writeFiltered));
      // A chain without LLM steps reruns too (only its cheap applies run again); --no-cache refuses.
      const check = await checkRunIdentity(ledger, identity, { rerun: options.cache !== false });
      grown = check.grown;
      if (check.kind === "rerun") {
        // A new generation: the earlier results go (crash-safely), the response cache stays.
        rerun = { changes: check.changes, ...rerunScope(plan, check.before, identity) };
        options.events.emit({ type: "rerun", changes: rerun.changes, recomputed: rerun.recomputed, fromCache: rerun.fromCache, removed: rerun.removed });
        ledger.close();
        const folders = [...Object.keys(check.before.nodes), ...outputFolders(plan, writeFiltered)];
        beginGeneration(options.outDir, RUN_FILES, folders, check.changes);
        ledger = Ledger.open(ledgerPath);
        await checkRunIdentity(ledger, identity);
        endGeneration(options.outDir);
      }
    } catch (error) {
      ledger.close();
      throw error;
    }
    for (const file of grown) options.events.emit({ type: "input-grown", path: file.path, bytesBefore: file.before, bytesNow: file.now });
    if (options.shard === undefined) return { plan, source: whole, inputFingerprint, format, lock, ledger, invocation, redacted, rerun, grown };
    try {
      const { source, meta } = await openShardSource(whole, inputFingerprint, options.shard, ledger, options.shard.jobDir);
      return { plan, source, inputFingerprint, format, lock, ledger, shard: meta, invocation, redacted, rerun, grown };
    } catch (error) {
      ledger.close();
      throw error;
    }
  } catch (error) {
    lock.release();
    throw error;
  }
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

const SHARD_NAME = /^\d+\.(jsonl|parquet)$/;

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

/** Entries of OUTDIR that belong to its lock, not to a run. */
const isLockEntry = (name: string): boolean => name.startsWith(LOCK_FILE);

/** Refuses a non-empty OUTDIR that holds no run (files a `--fresh` would delete do not count). */
function checkRunFolder(outDir: string, plan: ChainPlan, fresh: boolean): void {
  // A rerun's discard a kill interrupted: the folder is a run's, and the next run finishes it.
  if (!existsSync(outDir) || existsSync(join(outDir, "ledger.sqlite")) || hasInterruptedGeneration(outDir)) return;
  const owned = new Set([...FRESH_FILES, ...plan.nodes.map((node) => node.id)]);
  // A response cache alone (the results deleted by hand to start over with it) is a run's too.
  const others = readdirSync(outDir).filter((name) => !isLockEntry(name) && !CACHE_FILES.includes(name) && !(fresh && (owned.has(name) || name.endsWith(".tmp"))));
  if (others.length > 0) {
    throw new ChainetteError("USAGE", `${outDir} is not empty and holds no chainette-stream run (no ledger.sqlite); pick an empty or new OUTDIR`);
  }
}

/** `--fresh`, under the lock: removes what a run owns in OUTDIR (never another application's database). */
function prepareOutDir(outDir: string, plan: ChainPlan, fresh: boolean): void {
  const ledgerPath = join(outDir, "ledger.sqlite");
  if (fresh && existsSync(ledgerPath)) {
    try {
      Ledger.open(ledgerPath, { readonly: true }).close();
    } catch (error) {
      if (isChainetteError(error, "LEDGER_FOREIGN")) throw error;
    }
  }
  // A rerun's discard a kill interrupted is finished first, whatever this run is (its marker names
  // the earlier chain's folders, which --fresh would not know).
  finishInterruptedGeneration(outDir, RUN_FILES);
  if (fresh) {
    const owned = new Set([...FRESH_FILES, ...plan.nodes.map((node) => node.id)]);
    for (const name of readdirSync(outDir)) if (owned.has(name) || name.endsWith(".tmp")) rmSync(join(outDir, name), { recursive: true, force: true });
  }
  checkRunFolder(outDir, plan, false);
}
