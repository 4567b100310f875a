/**
 * The checkpoint ledger: one SQLite file (WAL, versioned schema, prepared statements) that says,
 * for a run, which shard bytes are committed and which root rows are done. The commit protocol
 * (see docs/resume.md): shard bytes are fsync'd *before* `commit()` records them, and a resume cuts
 * every shard back to its committed length, so a row is never lost and never written twice.
 */
import Database from "better-sqlite3";
import { crashPoint } from "../crash-points.js";
import { traceDurable, tracingDurable } from "../durable-trace.js";
import { ChainetteError } from "../errors.js";
import { DoneRanges, type Range } from "./done-ranges.js";
import { LatencyHistogram } from "./latency-histogram.js";
import { SCHEMA_SQL, SCHEMA_VERSION } from "./schema.js";

export interface ShardRecord {
  dir: string;
  seq: number;
  lines: number;
  bytes: number;
  crc: number;
  sealed: boolean;
}

export interface FailureRecord {
  rowId: string;
  root: number;
  node: string;
  type: string;
  message: string;
  attempts: number;
  status: number | undefined;
}

export interface NodeStats {
  ok: number;
  failed: number;
  filtered: number;
  inputTokens: number;
  outputTokens: number;
  latency: LatencyHistogram;
}

export interface CommitData {
  shards: readonly ShardRecord[];
  /** The rows now done, as `[start, end, endOffset]` ranges. */
  rows: readonly Range[];
  failures: readonly FailureRecord[];
  /** Increments of the run counters (rows_in, ok, failed, filtered, tokens ...). */
  counters: Readonly<Record<string, number>>;
  /** Increments of each node's stats. */
  nodes: ReadonlyMap<string, NodeStats>;
  /** Filtered leaves of roots that also have a failed leaf, by the node that filtered them. */
  filteredSiblings?: readonly FilteredSiblings[];
}

export interface FilteredSiblings {
  root: number;
  node: string;
  count: number;
}

export function emptyNodeStats(): NodeStats {
  return { ok: 0, failed: 0, filtered: 0, inputTokens: 0, outputTokens: 0, latency: new LatencyHistogram() };
}

export class Ledger {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly doneRows: DoneRanges;
  private readonly statements;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
    this.statements = {
      upsertShard: db.prepare(
        "INSERT INTO shards (dir, seq, lines, bytes, crc, sealed) VALUES (@dir, @seq, @lines, @bytes, @crc, @sealed) " +
          "ON CONFLICT (dir, seq) DO UPDATE SET lines = excluded.lines, bytes = excluded.bytes, crc = excluded.crc, sealed = excluded.sealed",
      ),
      clearRanges: db.prepare("DELETE FROM done_ranges"),
      insertRange: db.prepare("INSERT INTO done_ranges (start, end, end_offset) VALUES (?, ?, ?)"),
      progress: db.prepare(
        "INSERT INTO progress (id, watermark_row, watermark_offset, commits) VALUES (1, @row, @offset, 1) " +
          "ON CONFLICT (id) DO UPDATE SET watermark_row = @row, watermark_offset = @offset, commits = commits + 1",
      ),
      failure: db.prepare(
        "INSERT OR REPLACE INTO failures (row_id, root, node, type, message, attempts, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      counter: db.prepare("INSERT INTO counters (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value"),
      nodeStats: db.prepare("SELECT * FROM node_stats WHERE node = ?"),
      upsertNode: db.prepare(
        "INSERT OR REPLACE INTO node_stats (node, ok, failed, filtered, input_tokens, output_tokens, latency) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
    };
    this.doneRows = this.loadDone();
  }

  /** Opens (creating when absent) the ledger at `path`. `readonly` opens a live run's ledger safely. */
  static open(path: string, options: { readonly?: boolean } = {}): Ledger {
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    } catch (error) {
      throw new ChainetteError("LEDGER", `cannot open the ledger ${path}: ${(error as Error).message}`, { cause: error });
    }
    if (!options.readonly) {
      db.pragma("journal_mode = WAL");
      // NORMAL is enough for exactly-once: a commit lost to power failure only makes a resume redo rows,
      // because the shards are cut back to whatever the ledger holds.
      db.pragma("synchronous = NORMAL");
      const version = Number(db.pragma("user_version", { simple: true }));
      if (version > SCHEMA_VERSION) {
        db.close();
        throw new ChainetteError("LEDGER", `${path} has ledger schema v${version}; this chainette-stream reads up to v${SCHEMA_VERSION}`);
      }
      db.exec(SCHEMA_SQL);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
    return new Ledger(path, db);
  }

  getMeta<T>(key: string): T | undefined {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  }

  setMeta(key: string, value: unknown): void {
    this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, JSON.stringify(value));
  }

  shards(): ShardRecord[] {
    const rows = this.db.prepare("SELECT dir, seq, lines, bytes, crc, sealed FROM shards ORDER BY dir, seq").all() as (Omit<ShardRecord, "sealed"> & { sealed: number })[];
    return rows.map((row) => ({ ...row, sealed: row.sealed === 1 }));
  }

  /** The done root rows (a live view: it moves with each commit). */
  done(): DoneRanges {
    return this.doneRows;
  }

  /** Records, in one transaction, that shard prefixes are durable and the rows in them are done. */
  commit(data: CommitData): void {
    this.doneRows.addRanges(data.rows);
    const transaction = this.db.transaction(() => {
      for (const shard of data.shards) this.statements.upsertShard.run({ ...shard, sealed: shard.sealed ? 1 : 0 });
      this.statements.clearRanges.run();
      for (const [start, end, offset] of this.doneRows.above()) this.statements.insertRange.run(start, end, offset);
      this.statements.progress.run({ row: this.doneRows.watermark, offset: this.doneRows.watermarkOffset });
      for (const f of data.failures) this.statements.failure.run(f.rowId, f.root, f.node, f.type, f.message, f.attempts, f.status ?? null);
      for (const [key, value] of Object.entries(data.counters)) if (value !== 0) this.statements.counter.run(key, value);
      for (const [node, delta] of data.nodes) this.mergeNodeStats(node, delta);
      if (data.filteredSiblings !== undefined && data.filteredSiblings.length > 0) {
        const insert = this.db.prepare("INSERT INTO filtered_siblings (root, node, count) VALUES (?, ?, ?) ON CONFLICT (root, node) DO UPDATE SET count = count + excluded.count");
        for (const { root, node, count } of data.filteredSiblings) insert.run(root, node, count);
      }
      crashPoint("ledger-in-transaction");
    });
    try {
      transaction();
      if (tracingDurable) traceDurable({ op: "ledger-commit", ledger: this.path, shards: data.shards.map(({ dir, seq, bytes, sealed }) => ({ dir, seq, bytes, sealed })) });
    } catch (error) {
      throw new ChainetteError("LEDGER", `ledger commit failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The filtered leaves recorded for these failed roots, summed by node. */
  filteredSiblings(roots: readonly number[]): Map<string, number> {
    const select = this.db.prepare("SELECT node, count FROM filtered_siblings WHERE root = ?");
    const byNode = new Map<string, number>();
    for (const root of roots) {
      for (const { node, count } of select.all(root) as { node: string; count: number }[]) byNode.set(node, (byNode.get(node) ?? 0) + count);
    }
    return byNode;
  }

  /**
   * `--retry-errors`, in one transaction: each rewritten folder's shard list is replaced, the failed
   * roots are no longer done and no longer failures, and the counters lose what those rows wrote.
   */
  forgetFailures(change: { roots: readonly number[]; folders: ReadonlyMap<string, readonly ShardRecord[]>; counters: Readonly<Record<string, number>>; nodes: ReadonlyMap<string, NodeStats> }): void {
    this.doneRows.remove(change.roots);
    const transaction = this.db.transaction(() => {
      for (const [dir, shards] of change.folders) {
        this.db.prepare("DELETE FROM shards WHERE dir = ?").run(dir);
        for (const shard of shards) this.statements.upsertShard.run({ ...shard, sealed: shard.sealed ? 1 : 0 });
      }
      this.statements.clearRanges.run();
      for (const [start, end, offset] of this.doneRows.above()) this.statements.insertRange.run(start, end, offset);
      this.statements.progress.run({ row: this.doneRows.watermark, offset: this.doneRows.watermarkOffset });
      const forget = this.db.prepare("DELETE FROM failures WHERE root = ?");
      const forgetFiltered = this.db.prepare("DELETE FROM filtered_siblings WHERE root = ?");
      for (const root of change.roots) {
        forget.run(root);
        forgetFiltered.run(root);
      }
      for (const [key, value] of Object.entries(change.counters)) if (value !== 0) this.statements.counter.run(key, value);
      for (const [node, delta] of change.nodes) this.mergeNodeStats(node, delta);
    });
    try {
      transaction();
      if (tracingDurable) traceDurable({ op: "ledger-swap", ledger: this.path, dirs: [...change.folders.keys()], shards: [...change.folders.values()].flat().map(({ dir, seq, bytes, sealed }) => ({ dir, seq, bytes, sealed })) });
    } catch (error) {
      throw new ChainetteError("LEDGER", `ledger update for --retry-errors failed: ${(error as Error).message}`, { cause: error });
    }
  }

  counters(): Record<string, number> {
    const rows = this.db.prepare("SELECT key, value FROM counters").all() as { key: string; value: number }[];
    return Object.fromEntries(rows.map((row) => [row.key, row.value]));
  }

  nodeStats(): Map<string, NodeStats> {
    const rows = this.db.prepare("SELECT * FROM node_stats").all() as NodeStatsRow[];
    return new Map(rows.map((row) => [row.node, fromRow(row)]));
  }

  failures(options: { limit?: number } = {}): FailureRecord[] {
    const rows = this.db.prepare("SELECT * FROM failures ORDER BY root LIMIT ?").all(options.limit ?? -1) as FailureRow[];
    return rows.map((row) => ({ rowId: row.row_id, root: row.root, node: row.node, type: row.type, message: row.message, attempts: row.attempts, status: row.status ?? undefined }));
  }

  /** Failures grouped by node and type, with a count and one sample message each. */
  failureGroups(): { node: string; type: string; count: number; sample: string; sampleRowId: string }[] {
    return this.db
      .prepare("SELECT node, type, COUNT(*) AS count, MIN(message) AS sample, MIN(row_id) AS sampleRowId FROM failures GROUP BY node, type ORDER BY count DESC")
      .all() as { node: string; type: string; count: number; sample: string; sampleRowId: string }[];
  }

  startSession(): number {
    return Number(this.db.prepare("INSERT INTO sessions (started_at, status) VALUES (?, 'running')").run(new Date().toISOString()).lastInsertRowid);
  }

  endSession(id: number, status: string, rows: number, wallMs: number): void {
    this.db.prepare("UPDATE sessions SET ended_at = ?, status = ?, rows = ?, wall_ms = ? WHERE id = ?").run(new Date().toISOString(), status, rows, Math.round(wallMs), id);
  }

  sessions(): { id: number; started_at: string; ended_at: string | null; status: string; rows: number; wall_ms: number }[] {
    return this.db.prepare("SELECT * FROM sessions ORDER BY id").all() as ReturnType<Ledger["sessions"]>;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private loadDone(): DoneRanges {
    const progress = this.db.prepare("SELECT watermark_row, watermark_offset FROM progress WHERE id = 1").get() as
      | { watermark_row: number; watermark_offset: number | null }
      | undefined;
    const ranges = (this.db.prepare("SELECT start, end, end_offset FROM done_ranges ORDER BY start").all() as { start: number; end: number; end_offset: number | null }[]).map(
      (row): Range => [row.start, row.end, row.end_offset],
    );
    return new DoneRanges(progress?.watermark_row ?? 0, progress?.watermark_offset ?? 0, ranges);
  }

  private mergeNodeStats(node: string, delta: NodeStats): void {
    const existing = this.statements.nodeStats.get(node) as NodeStatsRow | undefined;
    const stats = existing ? fromRow(existing) : emptyNodeStats();
    stats.latency.merge(delta.latency);
    this.statements.upsertNode.run(
      node, stats.ok + delta.ok, stats.failed + delta.failed, stats.filtered + delta.filtered,
      stats.inputTokens + delta.inputTokens, stats.outputTokens + delta.outputTokens, JSON.stringify(stats.latency),
    );
  }
}

interface NodeStatsRow { node: string; ok: number; failed: number; filtered: number; input_tokens: number; output_tokens: number; latency: string }
interface FailureRow { row_id: string; root: number; node: string; type: string; message: string; attempts: number; status: number | null }

function fromRow(row: NodeStatsRow): NodeStats {
  return { ok: row.ok, failed: row.failed, filtered: row.filtered, inputTokens: row.input_tokens, outputTokens: row.output_tokens, latency: new LatencyHistogram(JSON.parse(row.latency) as number[]) };
}
