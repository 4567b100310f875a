/**
 * The ledger's `rollups` table (schema v5): what each 10 s of a run did, written inside the commit
 * transaction that made those rows durable, so the charts of a run survive its process and agree
 * with its counts. Each commit adds its increments to the bucket of its own time; a commit's rows
 * may have finished up to one commit interval earlier, which is well inside a bucket.
 */
import type Database from "better-sqlite3";
import { LatencyHistogram } from "./latency-histogram.js";
import type { NodeStats } from "./ledger.js";

/** The width of one bucket. */
export const ROLLUP_BUCKET_MS = 10_000;

/** What one commit adds to its bucket beyond the rows' own counts. */
export interface CommitRollup {
  /** The commit's time (ms since the epoch): the bucket it falls in. */
  at: number;
  /** Requests sent and retries made since the last commit, over every engine. */
  requests: number;
  retries: number;
  /** The input's row count, when the run knows it (a live viewer shows progress and an ETA). */
  inputRows?: number | undefined;
  /** The nodes whose latency is the run's (those that send requests); every node when absent. */
  requestNodes?: ReadonlySet<string>;
}

/** One bucket of one node ('' = the whole run), as read back. */
export interface RollupRecord {
  bucket: number;
  node: string;
  rows: number;
  ok: number;
  failed: number;
  filtered: number;
  requests: number;
  retries: number;
  inputTokens: number;
  outputTokens: number;
  latency: LatencyHistogram;
}

/** The meta key of the input's row count, as the last commit knew it. */
export const INPUT_ROWS_META = "input_rows";

/** Adds one commit's increments to its bucket; runs inside the commit's transaction. */
export function writeRollup(
  db: Database.Database,
  rollup: CommitRollup,
  counters: Readonly<Record<string, number>>,
  nodes: ReadonlyMap<string, NodeStats>,
): void {
  const bucket = Math.floor(rollup.at / ROLLUP_BUCKET_MS) * ROLLUP_BUCKET_MS;
  const read = db.prepare("SELECT latency FROM rollups WHERE bucket = ? AND node = ?");
  const upsert = db.prepare(
    "INSERT INTO rollups (bucket, node, rows, ok, failed, filtered, requests, retries, input_tokens, output_tokens, latency) " +
      "VALUES (@bucket, @node, @rows, @ok, @failed, @filtered, @requests, @retries, @input_tokens, @output_tokens, @latency) " +
      "ON CONFLICT (bucket, node) DO UPDATE SET rows = rows + excluded.rows, ok = ok + excluded.ok, failed = failed + excluded.failed, " +
      "filtered = filtered + excluded.filtered, requests = requests + excluded.requests, retries = retries + excluded.retries, " +
      "input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens, latency = excluded.latency",
  );
  const latencyWith = (node: string, delta: LatencyHistogram): string => {
    const existing = read.get(bucket, node) as { latency: string } | undefined;
    const merged = new LatencyHistogram(existing === undefined ? [] : (JSON.parse(existing.latency) as number[]));
    merged.merge(delta);
    return JSON.stringify(merged);
  };
  const runLatency = new LatencyHistogram();
  for (const [node, stats] of nodes) {
    if (rollup.requestNodes === undefined || rollup.requestNodes.has(node)) runLatency.merge(stats.latency);
    upsert.run({
      bucket, node, rows: 0, ok: stats.ok, failed: stats.failed, filtered: stats.filtered, requests: 0, retries: 0,
      input_tokens: stats.inputTokens, output_tokens: stats.outputTokens, latency: latencyWith(node, stats.latency),
    });
  }
  upsert.run({
    bucket, node: "", rows: counters.rows_in ?? 0, ok: counters.ok ?? 0, failed: counters.failed ?? 0, filtered: counters.filtered ?? 0,
    requests: rollup.requests, retries: rollup.retries, input_tokens: counters.input_tokens ?? 0, output_tokens: counters.output_tokens ?? 0,
    latency: latencyWith("", runLatency),
  });
  if (rollup.inputRows !== undefined) {
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(INPUT_ROWS_META, JSON.stringify(rollup.inputRows));
  }
}

/**
 * The buckets from `since` (ms since the epoch) on, oldest first, of one node ('' = the whole run)
 * or of all; none from a ledger before v5.
 */
export function readRollups(db: Database.Database, since = 0, node?: string): RollupRecord[] {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollups'").get();
  if (table === undefined) return [];
  const rows = (node === undefined
    ? db.prepare("SELECT * FROM rollups WHERE bucket >= ? ORDER BY bucket, node").all(since)
    : db.prepare("SELECT * FROM rollups WHERE bucket >= ? AND node = ? ORDER BY bucket").all(since, node)) as RollupRow[];
  return rows.map((row) => ({
    bucket: row.bucket, node: row.node, rows: row.rows, ok: row.ok, failed: row.failed, filtered: row.filtered,
    requests: row.requests, retries: row.retries, inputTokens: row.input_tokens, outputTokens: row.output_tokens,
    latency: new LatencyHistogram(JSON.parse(row.latency) as number[]),
  }));
}

interface RollupRow { bucket: number; node: string; rows: number; ok: number; failed: number; filtered: number; requests: number; retries: number; input_tokens: number; output_tokens: number; latency: string }
