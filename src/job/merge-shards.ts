/**
 * `merge OUTDIR`: makes a job run as shards (`OUTDIR/shards/0000i-of-0000N/`) look like a
 * one-machine run: `flattened/`, `errors/`, one folder per node (`filtered/` with
 * `--write-filtered`), `graph.json` and a summed `summary.json` in OUTDIR. Refused, naming the
 * shard, unless every shard 0..N-1 is there, complete, of the same job (chain, engines, input,
 * format) and the shards' rows cover the input exactly once. Files are hard-linked (copied across
 * filesystems), named `<shard>-<file>` so names sort in global row order.
 *
 * Crash-safe and idempotent: the folders are built in `OUTDIR/.merge/` and renamed into place,
 * `summary.json` last (it is removed first), so OUTDIR holds a merge exactly when it holds
 * `summary.json`; a merge killed half-way and run again gives the same result.
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { crashPoint } from "../crash-points.js";
import type { DoneRanges } from "../durability/done-ranges.js";
import { LatencyHistogram } from "../durability/latency-histogram.js";
import { Ledger } from "../durability/ledger.js";
import { lockOutDir, type OutDirLock } from "../durability/outdir-lock.js";
import { writeJsonAtomic } from "../durability/write-json-atomic.js";
import { ChainetteError, isChainetteError } from "../errors.js";
import { identityChanges, type RunIdentity } from "./run-identity.js";
import { SHARD_META, type ShardMeta } from "./shard-input.js";
import { parseShardFolderName, SHARDS_FOLDER, shardFolderName, type ShardSpec } from "./shard-spec.js";
import { cacheSavings, type RunSummary } from "./summary.js";

export const MERGE_STAGING = ".merge";

/** What one shard's run folder says about itself, read under its lock. */
export interface ShardState {
  spec: ShardSpec;
  folder: string;
  identity: RunIdentity;
  meta: ShardMeta;
  summary: RunSummary;
  /** Each node's latency histogram, which the merged percentiles come from. */
  latency: Map<string, LatencyHistogram>;
}

/** `summary.json` of a merged OUTDIR: a run's, plus the shards it was merged from. */
export type MergedSummary = RunSummary & { shards: number };

export interface MergeResult {
  shards: number;
  files: number;
  /** Files copied because a hard link was not possible (another filesystem). */
  copied: number;
  summary: MergedSummary;
}

/** The shard folders in `outDir/shards/`, by count: normally one count. */
export function listShardFolders(outDir: string): ShardSpec[] {
  const dir = join(outDir, SHARDS_FOLDER);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map(parseShardFolderName)
    .filter((spec) => spec !== undefined)
    .sort((a, b) => a.count - b.count || a.index - b.index);
}

export function mergeShards(outDir: string, command: string): MergeResult {
  const found = listShardFolders(outDir);
  if (found.length === 0) throw new ChainetteError("USAGE", `${outDir} holds no shards (no ${SHARDS_FOLDER}/0000I-of-0000N/ folders): run the job with --shard first`);
  const counts = [...new Set(found.map((spec) => spec.count))];
  if (counts.length > 1) {
    throw new ChainetteError("SHARDS_INCOMPLETE", `${outDir}/${SHARDS_FOLDER} holds shards of ${counts.length} different splits (N = ${counts.join(", ")}); one job has one N: remove the folders of the split you do not want`);
  }
  const count = counts[0] as number;
  const locks: OutDirLock[] = [];
  try {
    locks.push(lockOutDir(outDir, command));
    const states: ShardState[] = [];
    for (let index = 0; index < count; index++) {
      const spec = { index, count };
      const folder = join(outDir, SHARDS_FOLDER, shardFolderName(spec));
      if (!existsSync(folder)) throw refusal(spec, `is missing (no ${SHARDS_FOLDER}/${shardFolderName(spec)}/): run it with --shard ${index}/${count}`);
      try {
        locks.push(lockOutDir(folder, command));
      } catch (error) {
        if (isChainetteError(error, "OUTDIR_LOCKED")) throw refusal(spec, `is running: ${error.message}`);
        throw error;
      }
      states.push(readShard(spec, folder));
    }
    checkConsistent(states);
    return writeMerge(outDir, states);
  } finally {
    for (const lock of locks.reverse()) lock.release();
  }
}

function refusal(spec: ShardSpec, problem: string): ChainetteError {
  return new ChainetteError("SHARDS_INCOMPLETE", `cannot merge: shard ${spec.index}/${spec.count} ${problem}`);
}

function readShard(spec: ShardSpec, folder: string): ShardState {
  const path = join(folder, "ledger.sqlite");
  if (!existsSync(path)) throw refusal(spec, `has not started (no ledger.sqlite in ${folder}): run it with --shard ${spec.index}/${spec.count}`);
  const ledger = Ledger.open(path, { readonly: true });
  try {
    const identity = ledger.getMeta<RunIdentity>("identity");
    const meta = ledger.getMeta<ShardMeta>(SHARD_META);
    if (identity === undefined || meta === undefined) throw refusal(spec, `has not started (its ledger records no shard yet): run it with --shard ${spec.index}/${spec.count}`);
    if (identity.shard?.index !== spec.index || identity.shard.count !== spec.count || meta.index !== spec.index || meta.count !== spec.count) {
      throw refusal(spec, `is not what its folder says: its ledger records shard ${meta.index}/${meta.count} (a folder moved or renamed?)`);
    }
    const last = ledger.sessions().at(-1);
    if (last?.status !== "complete") {
      const state = last === undefined ? "has not run a session" : last.ended_at === null ? "did not finish (killed or still running)" : `ended ${last.status}${last.reason === null ? "" : ` (${last.reason.split("\n")[0] ?? ""})`}`;
      throw refusal(spec, `is not complete: it ${state}; run it again with --shard ${spec.index}/${spec.count} to resume it`);
    }
    checkDoneRows(spec, meta, ledger.done());
    return { spec, folder, identity, meta, ...shardSummary(ledger, identity) };
  } finally {
    ledger.close();
  }
}

/** A complete shard has done exactly its rows `[firstRow, endRow)`. */
function checkDoneRows(spec: ShardSpec, meta: ShardMeta, done: DoneRanges): void {
  const spans = [...(done.watermark > 0 ? [[0, done.watermark] as const] : []), ...done.above().map(([start, end]) => [start, end] as const)];
  const expected = meta.endRow > meta.firstRow ? [[meta.firstRow, meta.endRow]] : [];
  if (JSON.stringify(spans) !== JSON.stringify(expected)) {
    throw refusal(spec, `did not do exactly its rows ${meta.firstRow}..${meta.endRow - 1}: its ledger has ${spans.map(([start, end]) => `${start}..${end - 1}`).join(", ") || "none"}`);
  }
}

function checkConsistent(states: readonly ShardState[]): void {
  const first = states[0];
  if (first === undefined) return;
  const withoutShard = ({ shard: _shard, ...identity }: RunIdentity): RunIdentity => identity;
  let nextRow = 0;
  let nextByte = 0;
  for (const state of states) {
    const changes = identityChanges(withoutShard(first.identity), withoutShard(state.identity));
    if (changes.length > 0) throw refusal(state.spec, `is not of the same job as shard 0/${first.spec.count}:\n${changes.map((change) => `  - ${change}`).join("\n")}`);
    const { meta } = state;
    if (meta.firstRow !== nextRow) throw refusal(state.spec, `starts at row ${meta.firstRow}, but the shards before it end at row ${nextRow}: the row ranges do not cover the input once`);
    if (meta.byteStart !== undefined && meta.byteStart !== nextByte) throw refusal(state.spec, `starts at byte ${meta.byteStart}, but the shards before it end at byte ${nextByte}`);
    nextRow = meta.endRow;
    nextByte = meta.byteEnd ?? nextByte;
  }
  const last = states.at(-1) as ShardState;
  const inputBytes = first.identity.input.files[0]?.size;
  if (last.meta.byteEnd !== undefined && last.meta.byteEnd !== inputBytes) throw refusal(last.spec, `ends at byte ${last.meta.byteEnd}, not at the input's end (${inputBytes ?? "?"} bytes)`);
  if (last.meta.inputRows !== undefined && last.meta.endRow !== last.meta.inputRows) throw refusal(last.spec, `ends at row ${last.meta.endRow}, not at the input's end (${last.meta.inputRows} rows)`);
}

/** A shard's own summary from its ledger (the truth), as `summary.json` would have it. */
function shardSummary(ledger: Ledger, identity: RunIdentity): { summary: RunSummary; latency: Map<string, LatencyHistogram> } {
  const counters = ledger.counters();
  const sessions = ledger.sessions();
  const nodes: RunSummary["nodes"] = {};
  const latency = new Map<string, LatencyHistogram>();
  for (const [node, stats] of ledger.nodeStats()) {
    if (node === "" || node === "input") continue;
    latency.set(node, stats.latency);
    nodes[node] = { ok: stats.ok, failed: stats.failed, filtered: stats.filtered, input_tokens: stats.inputTokens, output_tokens: stats.outputTokens, latency_ms: { p50: 0, p90: 0, p99: 0 } };
  }
  const wallMs = sessions.reduce((sum, session) => sum + session.wall_ms, 0);
  const rowsIn = counters.rows_in ?? 0;
  const summary: RunSummary = {
    chain: identity.chain,
    status: "complete",
    complete: true,
    reason: null,
    rows: { in: rowsIn, ok: counters.ok ?? 0, failed: counters.failed ?? 0, filtered: counters.filtered ?? 0 },
    input_rows: rowsIn,
    tokens: { input: counters.input_tokens ?? 0, output: counters.output_tokens ?? 0 },
    wall_ms: Math.round(wallMs),
    rows_per_second: wallMs > 0 ? Math.round((rowsIn / wallMs) * 1000 * 10) / 10 : 0,
    sessions: sessions.length,
    nodes,
    cache: cacheSavings(counters),
    resume_command: "",
    resume_note: null,
    updated_at: new Date().toISOString(),
  };
  return { summary, latency };
}

/**
 * The job's summary: counts and tokens summed, latencies from the merged histograms, `wall_ms` the
 * longest shard's (they ran side by side) and `rows_per_second` the shards' rates added up.
 */
function mergedSummary(states: readonly ShardState[]): MergedSummary {
  const summaries = states.map((state) => state.summary);
  const nodes: RunSummary["nodes"] = {};
  const histograms = new Map<string, LatencyHistogram>();
  for (const { summary, latency } of states) {
    for (const [node, stats] of Object.entries(summary.nodes)) {
      const total = (nodes[node] ??= { ok: 0, failed: 0, filtered: 0, input_tokens: 0, output_tokens: 0, latency_ms: { p50: 0, p90: 0, p99: 0 } });
      total.ok += stats.ok;
      total.failed += stats.failed;
      total.filtered += stats.filtered;
      total.input_tokens += stats.input_tokens;
      total.output_tokens += stats.output_tokens;
      const histogram = histograms.get(node) ?? new LatencyHistogram();
      const own = latency.get(node);
      if (own !== undefined) histogram.merge(own);
      histograms.set(node, histogram);
    }
  }
  for (const [node, histogram] of histograms) {
    const stats = nodes[node];
    if (stats !== undefined) stats.latency_ms = { p50: histogram.quantile(0.5), p90: histogram.quantile(0.9), p99: histogram.quantile(0.99) };
  }
  const sum = (pick: (summary: RunSummary) => number): number => summaries.reduce((total, summary) => total + pick(summary), 0);
  const rowsIn = sum((summary) => summary.rows.in);
  return {
    chain: summaries[0]?.chain ?? "",
    status: "complete",
    complete: true,
    reason: null,
    rows: { in: rowsIn, ok: sum((summary) => summary.rows.ok), failed: sum((summary) => summary.rows.failed), filtered: sum((summary) => summary.rows.filtered) },
    input_rows: rowsIn,
    tokens: { input: sum((summary) => summary.tokens.input), output: sum((summary) => summary.tokens.output) },
    wall_ms: Math.max(0, ...summaries.map((summary) => summary.wall_ms)),
    rows_per_second: Math.round(sum((summary) => summary.rows_per_second) * 10) / 10,
    sessions: sum((summary) => summary.sessions),
    nodes,
    cache: {
      hits: sum((summary) => summary.cache.hits),
      requests_saved: sum((summary) => summary.cache.requests_saved),
      input_tokens_saved: sum((summary) => summary.cache.input_tokens_saved),
      output_tokens_saved: sum((summary) => summary.cache.output_tokens_saved),
    },
    resume_command: "",
    resume_note: `merged from ${states.length} shard(s) in ${SHARDS_FOLDER}/: to change a shard (--retry-errors, --repair), run it there with its --shard I/N, then merge again`,
    updated_at: new Date().toISOString(),
    shards: states.length,
  };
}

const OUTPUT_FILE = /^(\d+)\.(jsonl|parquet)$/;

function writeMerge(outDir: string, states: readonly ShardState[]): MergeResult {
  const first = states[0] as ShardState;
  const folders = [...Object.keys(first.identity.nodes), "flattened", "errors", ...(first.identity.writeFiltered === true ? ["filtered"] : [])];
  const clash = folders.find((folder) => folder === SHARDS_FOLDER || folder === MERGE_STAGING);
  if (clash !== undefined) throw new ChainetteError("USAGE", `a node is named \`${clash}\`, which is a folder merge keeps for itself: rename the node`);
  // From here on OUTDIR holds no finished merge until the new summary.json is in place.
  rmSync(join(outDir, "summary.json"), { force: true });
  const staging = join(outDir, MERGE_STAGING);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  let files = 0;
  let copied = 0;
  const place = (from: string, to: string): void => {
    files++;
    try {
      linkSync(from, to);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EXDEV" && code !== "EPERM" && code !== "ENOTSUP") throw error;
      copyFileSync(from, to);
      copied++;
    }
  };
  for (const folder of folders) {
    mkdirSync(join(staging, folder));
    for (const state of states) {
      const source = join(state.folder, folder);
      if (!existsSync(source)) continue;
      for (const name of readdirSync(source).sort()) {
        const match = OUTPUT_FILE.exec(name);
        if (match === null) continue;
        place(join(source, name), join(staging, folder, `${shardFolderName(state.spec).slice(0, 5)}-${(match[1] as string).padStart(6, "0")}.${match[2] as string}`));
      }
    }
  }
  const graph = join(first.folder, "graph.json");
  if (existsSync(graph)) place(graph, join(staging, "graph.json"));
  crashPoint("merge-linked");
  for (const name of [...folders, "graph.json"]) {
    if (!existsSync(join(staging, name))) continue;
    rmSync(join(outDir, name), { recursive: true, force: true });
    renameSync(join(staging, name), join(outDir, name));
    crashPoint("merge-swapped");
  }
  const summary = mergedSummary(states);
  writeJsonAtomic(join(outDir, "summary.json"), summary);
  rmSync(staging, { recursive: true, force: true });
  return { shards: states.length, files, copied, summary };
}
