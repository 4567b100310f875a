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
import { DoneRanges, type Range, type RootRange } from "./done-ranges.js";
import { LatencyHistogram } from "./latency-histogram.js";
import { readRollups, writeRollup, type CommitRollup, type RollupRecord } from "./ledger-rollups.js";
import { SCHEMA_SQL, SCHEMA_VERSION } from "./ledger-schema.js";

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

/** One group of `failureGroups()`: the sample message is that of the row `sampleRowId`. */
export interface FailureGroup {
  node: string;
  type: string;
  count: number;
  sample: string;
  sampleRowId: string;
}

/** One invocation of a run (the first and every resume). */
export interface SessionRecord {
  id: number;
  started_at: string;
  /** Null while it runs, and forever when its process was killed or crashed. */
  ended_at: string | null;
  /** `running` until it ends (and after a kill), then `complete`, `stopped` or `failed`. */
  status: string;
  rows: number;
  wall_ms: number;
  /** Why it stopped or failed: `CODE: message`, or `stopped by Ctrl-C`...; null when complete or never ended (or before schema v4). */
  reason: string | null;
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
  /** Filtered leaves of roots that fanned out, by the node that filtered them. */
  filteredSiblings?: readonly FilteredSiblings[];
  /** Roots that did not fan out and whose leaf a node filtered (schema v3). */
  filteredRanges?: readonly FilteredRange[];
  /** The roots whose lines the committed shard bytes added, per shard (schema v3). */
  shardRoots?: readonly ShardRoots[];
  /** This commit's share of the 10 s rollups the viewer charts (schema v5). */
  rollup?: CommitRollup;
}

/** Root rows `[start, end)` that did not fan out and whose one leaf `node` filtered. */
export interface FilteredRange {
  node: string;
  start: number;
  end: number;
}

/** Root rows `[start, end)` with lines in one shard. */
export interface ShardRoots {
  dir: string;
  seq: number;
  start: number;
  end: number;
}

/** What forgetting roots (`--retry-errors`, `--repair`) changes in the ledger, in one transaction. */
export interface ForgetRootsChange {
  /** The roots no longer done, as sorted disjoint ranges. */
  roots: readonly RootRange[];
  /** Each rewritten folder's whole new shard list and the roots of those shards. */
  folders: ReadonlyMap<string, { shards: readonly ShardRecord[]; roots: readonly ShardRoots[] }>;
  /** Increments (negative) of the run counters. */
  counters: Readonly<Record<string, number>>;
  /** Increments (negative) of each node's stats. */
  nodes: ReadonlyMap<string, NodeStats>;
}

export interface FilteredSiblings {
  root: number;
  node: string;
  count: number;
}

/**
 * The ledger runs `synchronous=NORMAL` in WAL mode: a committed transaction survives a crash of the
 * process but not necessarily a power cut, which only makes a resume redo rows. A change that lets
 * the next step *delete* files (sealing removes staging shards; `--retry-errors` removes old shards)
 * must be on disk first, or a power cut could leave a ledger that still points at deleted files.
 */
export interface DurableOption {
  /**
   * Sync the ledger to disk as part of this transaction (`synchronous=FULL` for it): this change and
   * every one before it survive a power cut once the call returns.
   * @default false
   */
  durable?: boolean;
}
/** Set in `meta` when a v1/v2 ledger with shards is migrated: those shards have no `shard_roots`. */
const UNTRACKED_ROOTS = "untracked_shard_roots";

export function emptyNodeStats(): NodeStats {
  return { ok: 0, failed: 0, filtered: 0, inputTokens: 0, outputTokens: 0, latency: new LatencyHistogram() };
}

export class Ledger {
  readonly path: string;
  private readonly db: Database.Database;
  /** Replaced, never changed, by a commit: a transaction that fails leaves it as it was. */
  private doneRows: DoneRanges;
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

  /**
   * Opens (creating when absent) the ledger at `path`. `readonly` opens a live run's ledger safely.
   * Before writing anything it reads what the file holds: a file that is not a database, or is
   * damaged, is `LEDGER_CORRUPT`; another application's database is `LEDGER_FOREIGN` and is left
   * exactly as it was. An empty file (0 bytes, or a database with no tables) is a new ledger.
   */
  static open(path: string, options: { readonly?: boolean } = {}): Ledger {
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    } catch (error) {
      throw new ChainetteError("LEDGER", `cannot open the ledger ${path}: ${(error as Error).message}`, { cause: error });
    }
    try {
      const empty = checkLedgerFile(db, path);
      if (options.readonly) {
        if (empty) throw new ChainetteError("LEDGER_CORRUPT", `${path} is empty: it records no run`);
        return new Ledger(path, db);
      }
      db.pragma("journal_mode = WAL");
      // NORMAL is enough for exactly-once: a commit lost to power failure only makes a resume redo rows,
      // because the shards are cut back to whatever the ledger holds. Changes that precede a deletion
      // of files are committed `durable` (FULL for that transaction).
      db.pragma("synchronous = NORMAL");
      const version = Number(db.pragma("user_version", { simple: true }));
      if (version > SCHEMA_VERSION) {
        throw new ChainetteError("LEDGER", `${path} has ledger schema v${version}; this chainette-stream reads up to v${SCHEMA_VERSION}`);
      }
      db.exec(SCHEMA_SQL);
      if (version > 0 && version < 3 && db.prepare("SELECT 1 FROM shards LIMIT 1").get() !== undefined) {
        db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, 'true')").run(UNTRACKED_ROOTS);
      }
      // v4: the sessions table of an older ledger gains `reason` (CREATE TABLE IF NOT EXISTS kept the old one).
      if (!(db.pragma("table_info(sessions)") as { name: string }[]).some((column) => column.name === "reason")) db.exec("ALTER TABLE sessions ADD COLUMN reason TEXT");
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      return new Ledger(path, db);
    } catch (error) {
      db.close();
      throw ledgerError(error, path);
    }
  }

  /**
   * Copies the write-ahead log into the main file (and fsyncs it). Called once the run identity is
   * first written, so a `-wal` lost after a crash can lose commits (a resume redoes their rows) but
   * never the identity, without which the OUTDIR's shards could not be accounted for.
   */
  checkpoint(): void {
    this.db.pragma("wal_checkpoint(FULL)");
    if (tracingDurable) traceDurable({ op: "ledger-durable", ledger: this.path });
  }

  getMeta<T>(key: string): T | undefined {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    if (row === undefined) return undefined;
    try {
      return JSON.parse(row.value) as T;
    } catch (error) {
      throw new ChainetteError("LEDGER_CORRUPT", `${this.path} is damaged: its \`${key}\` record is not JSON (${(error as Error).message}); ${NO_LEDGER_ADVICE}`, { cause: error });
    }
  }

  setMeta(key: string, value: unknown): void {
    this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, JSON.stringify(value));
  }

  shards(): ShardRecord[] {
    const rows = this.db.prepare("SELECT dir, seq, lines, bytes, crc, sealed FROM shards ORDER BY dir, seq").all() as (Omit<ShardRecord, "sealed"> & { sealed: number })[];
    return rows.map((row) => ({ ...row, sealed: row.sealed === 1 }));
  }

  /**
   * The done root rows as of the last successful commit. A commit replaces this object instead of
   * changing it, so what a caller holds stays as it was: ask again after a commit.
   */
  done(): DoneRanges {
    return this.doneRows;
  }

  /**
   * Records, in one transaction, that shard prefixes are durable and the rows in them are done.
   * `durable`: the transaction is on disk when this returns (see `DurableOption`); pass it when the
   * next step deletes files that only this change makes unnecessary.
   */
  commit(data: CommitData, options: DurableOption = {}): void {
    const done = this.doneRows.copy();
    done.addRanges(data.rows);
    const transaction = this.db.transaction(() => {
      for (const shard of data.shards) this.statements.upsertShard.run({ ...shard, sealed: shard.sealed ? 1 : 0 });
      this.writeDone(done);
      for (const f of data.failures) this.statements.failure.run(f.rowId, f.root, f.node, f.type, f.message, f.attempts, f.status ?? null);
      for (const [key, value] of Object.entries(data.counters)) if (value !== 0) this.statements.counter.run(key, value);
      for (const [node, delta] of data.nodes) this.mergeNodeStats(node, delta);
      if (data.filteredSiblings !== undefined && data.filteredSiblings.length > 0) {
        const insert = this.db.prepare("INSERT INTO filtered_siblings (root, node, count) VALUES (?, ?, ?) ON CONFLICT (root, node) DO UPDATE SET count = count + excluded.count");
        for (const { root, node, count } of data.filteredSiblings) insert.run(root, node, count);
      }
      if (data.shardRoots !== undefined && data.shardRoots.length > 0) this.appendShardRoots(data.shardRoots);
      if (data.filteredRanges !== undefined && data.filteredRanges.length > 0) this.appendFilteredRanges(data.filteredRanges);
      if (data.rollup !== undefined) writeRollup(this.db, data.rollup, data.counters, data.nodes);
      crashPoint("ledger-in-transaction");
    });
    this.runTransaction(transaction, options, "ledger commit failed");
    if (tracingDurable) {
      traceDurable({ op: "ledger-commit", ledger: this.path, shards: data.shards.map(({ dir, seq, bytes, sealed }) => ({ dir, seq, bytes, sealed })) });
      if (options.durable === true) traceDurable({ op: "ledger-durable", ledger: this.path });
    }
    this.doneRows = done;
  }

  /** How many commits the run has made, over every session. */
  commits(): number {
    return (this.db.prepare("SELECT commits FROM progress WHERE id = 1").get() as { commits: number } | undefined)?.commits ?? 0;
  }

  /** The 10 s rollups from `since` (ms since the epoch) on, oldest first, of one node ('' = the run) or all (none before schema v5). */
  rollups(since = 0, node?: string): RollupRecord[] {
    return readRollups(this.db, since, node);
  }

  /** Whether every committed shard's roots are recorded (false for shards a v1/v2 ledger committed). */
  rootsTracked(): boolean {
    return this.getMeta<boolean>(UNTRACKED_ROOTS) !== true;
  }

  /** The recorded root ranges of one folder's shards, by shard seq. */
  shardRoots(dir: string): Map<number, RootRange[]> {
    const rows = this.db.prepare("SELECT seq, start, end FROM shard_roots WHERE dir = ? ORDER BY seq, start").all(dir) as { seq: number; start: number; end: number }[];
    const bySeq = new Map<number, RootRange[]>();
    for (const { seq, start, end } of rows) {
      const ranges = bySeq.get(seq);
      if (ranges === undefined) bySeq.set(seq, [[start, end]]);
      else ranges.push([start, end]);
    }
    return bySeq;
  }

  /** How many failures (fan-out children included) the roots in these ranges have, by node. */
  failuresByNode(roots: readonly RootRange[]): Map<string, number> {
    return this.sumByNode("SELECT node, COUNT(*) AS count FROM failures WHERE root >= ? AND root < ? GROUP BY node", roots);
  }

  /** How many leaves of the roots in these ranges were filtered, by the node that filtered them. */
  filteredLeaves(roots: readonly RootRange[]): Map<string, number> {
    const byNode = this.sumByNode("SELECT node, SUM(count) AS count FROM filtered_siblings WHERE root >= ? AND root < ? GROUP BY node", roots);
    for (const { range, overlap } of this.filteredRangesIn(roots)) byNode.set(range.node, (byNode.get(range.node) ?? 0) + overlap);
    return byNode;
  }

  /**
   * `--retry-errors` and `--repair`, in one transaction: each rewritten folder's shard list is
   * replaced, the roots are no longer done and have no failures or filtered leaves, and the
   * counters lose what those rows wrote. Pass `{ durable: true }` before deleting the replaced files.
   */
  forgetRoots(change: ForgetRootsChange, options: DurableOption = {}): void {
    const done = this.doneRows.copy();
    done.removeRanges(change.roots);
    const transaction = this.db.transaction(() => {
      for (const [dir, folder] of change.folders) {
        this.db.prepare("DELETE FROM shards WHERE dir = ?").run(dir);
        this.db.prepare("DELETE FROM shard_roots WHERE dir = ?").run(dir);
        for (const shard of folder.shards) this.statements.upsertShard.run({ ...shard, sealed: shard.sealed ? 1 : 0 });
        this.appendShardRoots(folder.roots);
      }
      this.writeDone(done);
      const dropRange = this.db.prepare("DELETE FROM filtered_ranges WHERE node = ? AND start = ?");
      const kept: FilteredRange[] = [];
      for (const { range } of this.filteredRangesIn(change.roots)) {
        dropRange.run(range.node, range.start);
        let from = range.start;
        for (const [start, end] of change.roots) {
          if (end <= from) continue;
          if (start >= range.end) break;
          if (start > from) kept.push({ node: range.node, start: from, end: start });
          from = end;
        }
        if (from < range.end) kept.push({ node: range.node, start: from, end: range.end });
      }
      this.appendFilteredRanges(kept);
      const forget = this.db.prepare("DELETE FROM failures WHERE root >= ? AND root < ?");
      const forgetFiltered = this.db.prepare("DELETE FROM filtered_siblings WHERE root >= ? AND root < ?");
      for (const [start, end] of change.roots) {
        forget.run(start, end);
        forgetFiltered.run(start, end);
      }
      for (const [key, value] of Object.entries(change.counters)) if (value !== 0) this.statements.counter.run(key, value);
      for (const [node, delta] of change.nodes) this.mergeNodeStats(node, delta);
    });
    this.runTransaction(transaction, options, "ledger update that forgets rows failed");
    if (tracingDurable) {
      const shards = [...change.folders.values()].flatMap((folder) => folder.shards.map(({ dir, seq, bytes, sealed }) => ({ dir, seq, bytes, sealed })));
      traceDurable({ op: "ledger-swap", ledger: this.path, dirs: [...change.folders.keys()], shards });
      if (options.durable === true) traceDurable({ op: "ledger-durable", ledger: this.path });
    }
    this.doneRows = done;
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

  /**
   * Failures grouped by node and type, most frequent first, each with a count and one sample: the
   * message and row_id of the same row (that group's first row in input order).
   */
  failureGroups(): FailureGroup[] {
    return this.db
      .prepare(
        "SELECT node, type, count, message AS sample, row_id AS sampleRowId FROM (" +
          "SELECT node, type, message, row_id, COUNT(*) OVER (PARTITION BY node, type) AS count, " +
          "ROW_NUMBER() OVER (PARTITION BY node, type ORDER BY root, row_id) AS n FROM failures) WHERE n = 1 ORDER BY count DESC, node, type",
      )
      .all() as FailureGroup[];
  }

  /**
   * One group's failures in input order, after the `after` failure (`[root, row_id]`), at most
   * `limit`: the viewer pages them by this cursor, never by offset.
   */
  failuresOf(group: { node: string; type: string }, after: readonly [number, string] | undefined, limit: number): FailureRecord[] {
    const [root, rowId] = after ?? [-1, ""];
    const rows = this.db
      .prepare("SELECT * FROM failures WHERE node = ? AND type = ? AND (root > ? OR (root = ? AND row_id > ?)) ORDER BY root, row_id LIMIT ?")
      .all(group.node, group.type, root, root, rowId, limit) as FailureRow[];
    return rows.map(failureFromRow);
  }

  /** The failure recorded for one row, if any. */
  failureOf(rowId: string): FailureRecord | undefined {
    const row = this.db.prepare("SELECT * FROM failures WHERE row_id = ?").get(rowId) as FailureRow | undefined;
    return row === undefined ? undefined : failureFromRow(row);
  }

  startSession(): number {
    return Number(this.db.prepare("INSERT INTO sessions (started_at, status) VALUES (?, 'running')").run(new Date().toISOString()).lastInsertRowid);
  }

  /** @param reason why the session ended when it did not complete (see `SessionRecord.reason`) */
  endSession(id: number, status: string, rows: number, wallMs: number, reason: string | null = null): void {
    this.db.prepare("UPDATE sessions SET ended_at = ?, status = ?, rows = ?, wall_ms = ?, reason = ? WHERE id = ?").run(new Date().toISOString(), status, rows, Math.round(wallMs), reason, id);
  }

  sessions(): SessionRecord[] {
    // A v1-v3 ledger opened read-only (inspect) has no `reason` column.
    const rows = this.db.prepare("SELECT * FROM sessions ORDER BY id").all() as (Omit<SessionRecord, "reason"> & { reason?: string | null })[];
    return rows.map((row) => ({ ...row, reason: row.reason ?? null }));
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
    // A NULL offset stays unknown (the reader then counts rows up to the watermark): reading it as 0
    // would number the file's first line as the watermark row.
    return new DoneRanges(progress?.watermark_row ?? 0, progress?.watermark_offset ?? null, ranges);
  }

  private writeDone(done: DoneRanges): void {
    this.statements.clearRanges.run();
    for (const [start, end, offset] of done.above()) this.statements.insertRange.run(start, end, offset);
    this.statements.progress.run({ row: done.watermark, offset: done.watermarkOffset });
  }

  private runTransaction(transaction: () => void, options: DurableOption, failure: string): void {
    // In WAL mode, synchronous=FULL syncs the WAL after the commit (and with it every transaction before).
    if (options.durable === true) this.db.pragma("synchronous = FULL");
    try {
      transaction();
    } catch (error) {
      throw new ChainetteError("LEDGER", `${failure}: ${(error as Error).message}`, { cause: error });
    } finally {
      if (options.durable === true) this.db.pragma("synchronous = NORMAL");
    }
  }

  /** Adds root ranges to shards, extending a shard's range that ends where one starts. */
  private appendShardRoots(roots: readonly ShardRoots[]): void {
    const extend = this.db.prepare("UPDATE shard_roots SET end = @end WHERE dir = @dir AND seq = @seq AND end = @start");
    const insert = this.db.prepare("INSERT INTO shard_roots (dir, seq, start, end) VALUES (@dir, @seq, @start, @end) ON CONFLICT (dir, seq, start) DO UPDATE SET end = max(end, excluded.end)");
    for (const range of roots) if (extend.run(range).changes === 0) insert.run(range);
  }

  /** Adds filtered root ranges, extending the node's range that ends where one starts (found by key). */
  private appendFilteredRanges(ranges: readonly FilteredRange[]): void {
    const previous = this.db.prepare("SELECT start, end FROM filtered_ranges WHERE node = ? AND start < ? ORDER BY start DESC LIMIT 1");
    const setEnd = this.db.prepare("UPDATE filtered_ranges SET end = ? WHERE node = ? AND start = ?");
    const insert = this.db.prepare("INSERT INTO filtered_ranges (node, start, end) VALUES (@node, @start, @end) ON CONFLICT (node, start) DO UPDATE SET end = max(end, excluded.end)");
    for (const range of ranges) {
      const before = previous.get(range.node, range.start) as { start: number; end: number } | undefined;
      if (before !== undefined && before.end === range.start) setEnd.run(range.end, range.node, before.start);
      else insert.run(range);
    }
  }

  /** The filtered ranges that overlap sorted disjoint root ranges, and by how many roots. */
  private filteredRangesIn(roots: readonly RootRange[]): { range: FilteredRange; overlap: number }[] {
    const found: { range: FilteredRange; overlap: number }[] = [];
    if (roots.length === 0) return found;
    const all = this.db.prepare("SELECT node, start, end FROM filtered_ranges ORDER BY start").all() as FilteredRange[];
    let first = 0;
    for (const range of all) {
      while (first < roots.length && (roots[first] as RootRange)[1] <= range.start) first++;
      let overlap = 0;
      for (let i = first; i < roots.length && (roots[i] as RootRange)[0] < range.end; i++) {
        const [start, end] = roots[i] as RootRange;
        overlap += Math.min(end, range.end) - Math.max(start, range.start);
      }
      if (overlap > 0) found.push({ range, overlap });
    }
    return found;
  }

  private sumByNode(sql: string, roots: readonly RootRange[]): Map<string, number> {
    const select = this.db.prepare(sql);
    const byNode = new Map<string, number>();
    for (const [start, end] of roots) {
      for (const { node, count } of select.all(start, end) as { node: string; count: number }[]) byNode.set(node, (byNode.get(node) ?? 0) + count);
    }
    return byNode;
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

/** The tables a ledger of any schema version may hold. */
const LEDGER_TABLES = new Set([...SCHEMA_SQL.matchAll(/CREATE TABLE IF NOT EXISTS (\w+)/g)].map((match) => match[1]));

const NO_LEDGER_ADVICE = "without it the shards in OUTDIR cannot be accounted for. Restore it from a backup, or rerun with --fresh to discard the run (its outputs are deleted)";

/**
 * Reads (never writes) what the file holds; true when it holds no tables at all (a new ledger).
 * Throws LEDGER_FOREIGN for a database with tables a ledger never has, or without `meta`.
 */
function checkLedgerFile(db: Database.Database, path: string): boolean {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").pluck().all() as string[];
  if (tables.length === 0) return true;
  const foreign = tables.filter((name) => !LEDGER_TABLES.has(name));
  if (foreign.length > 0 || !tables.includes("meta")) {
    throw new ChainetteError(
      "LEDGER_FOREIGN",
      `${path} is an SQLite database but not a chainette-stream ledger (its tables: ${tables.sort().join(", ")}); it was left as it is. Pick another OUTDIR, or move that file away if it does not belong there.`,
    );
  }
  return false;
}

/** SQLite's "not a database" and "malformed" become LEDGER_CORRUPT; other failures to open, LEDGER. */
function ledgerError(error: unknown, path: string): unknown {
  if (error instanceof ChainetteError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT"))) {
    return new ChainetteError("LEDGER_CORRUPT", `${path} is damaged (${(error as Error).message}); ${NO_LEDGER_ADVICE}.`, { cause: error });
  }
  return new ChainetteError("LEDGER", `cannot open the ledger ${path}: ${(error as Error).message}`, { cause: error });
}

interface NodeStatsRow { node: string; ok: number; failed: number; filtered: number; input_tokens: number; output_tokens: number; latency: string }
interface FailureRow { row_id: string; root: number; node: string; type: string; message: string; attempts: number; status: number | null }

function failureFromRow(row: FailureRow): FailureRecord {
  return { rowId: row.row_id, root: row.root, node: row.node, type: row.type, message: row.message, attempts: row.attempts, status: row.status ?? undefined };
}

function fromRow(row: NodeStatsRow): NodeStats {
  return { ok: row.ok, failed: row.failed, filtered: row.filtered, inputTokens: row.input_tokens, outputTokens: row.output_tokens, latency: new LatencyHistogram(JSON.parse(row.latency) as number[]) };
}
