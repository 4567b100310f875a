/**
 * The response cache: accepted LLM replies by request key (src/pipeline/reply-cache.ts), in a
 * SQLite file of its own, `OUTDIR/cache.sqlite` or `--cache DIR`'s `DIR/cache.sqlite` (shared by
 * runs, OUTDIRs and processes at once: WAL, a busy timeout).
 *
 * Durability: WAL with `synchronous = NORMAL`. A SIGKILL never loses a committed transaction; a
 * power cut may lose the last ones, which only costs sending those requests again (the cache is
 * never the record of what a row produced: the ledger and shards are). Stores are queued and
 * written in one transaction at the end of the event-loop turn their replies arrived in (or every
 * `MAX_QUEUED` replies), so a kill loses at most that turn's replies. The batching adapts to load:
 * a busy loop handles many replies a turn, an idle one can afford a transaction per reply. (A 10 ms
 * timer instead let a kill lose more replies than were in flight: cache-crash-cost.test.ts.)
 */
import { mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { ChainetteError } from "../errors.js";
import type { CachedReply, ReplyCache } from "../pipeline/reply-cache.js";

/** The cache's file name, in OUTDIR or in the `--cache` folder. */
export const CACHE_FILE = "cache.sqlite";

/** The files SQLite keeps for the cache (what `--fresh` removes from OUTDIR). */
export const CACHE_FILES = [CACHE_FILE, `${CACHE_FILE}-wal`, `${CACHE_FILE}-shm`];

const MAX_QUEUED = 512;
/** About 40 MB of key prefixes; a larger first run queries for every lookup instead. */
const MAX_SEEN = 2_000_000;
/** Another process writing the shared cache holds its lock for one short transaction. */
const BUSY_TIMEOUT_MS = 10_000;
const APPLICATION_ID = 0x63686372; // "chcr"

/**
 * A rowid table (replies append at its end) with a unique index on the key: random 32-byte keys in
 * a WITHOUT ROWID table made each insert split pages holding whole replies, 2-2.7x slower.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS replies (
  id INTEGER PRIMARY KEY,
  key BLOB NOT NULL UNIQUE,
  text TEXT NOT NULL,
  reasoning TEXT,
  finish_reason TEXT NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);`;

export interface CacheDescription {
  path: string;
  entries: number;
  /** Bytes of reply text (and reasoning) stored. */
  textBytes: number;
  /** When the oldest and the newest entry were stored (ms since the epoch); null when empty. */
  oldest: number | null;
  newest: number | null;
  /** Bytes of the cache's files on disk (database, WAL, shared memory). */
  bytes: number;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

interface ReplyRow {
  text: string;
  reasoning: string | null;
  finish_reason: string;
  input_tokens: number;
  output_tokens: number;
  requests: number;
}

export class ResponseCache implements ReplyCache {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #select: Database.Statement<[Buffer], ReplyRow>;
  readonly #insert: Database.Statement<[Buffer, string, string | null, string, number, number, number, number]>;
  readonly #writeBatch: (entries: readonly [Buffer, CachedReply][]) => void;
  /** Accepted replies not yet written, by key in hex (a lookup sees them too). */
  #queue = new Map<string, [Buffer, CachedReply]>();
  #flushScheduled: NodeJS.Immediate | undefined;
  /**
   * When the cache was empty at open (a first run): the first 48 bits of every key stored since, so
   * a lookup of any other key answers "miss" without a query. Entries another process adds meanwhile
   * are missed, which only costs their requests. Dropped (back to querying) past `MAX_SEEN` keys.
   */
  #seen: Set<number> | undefined;
  #closed = false;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#db = db;
    if (db.prepare("SELECT EXISTS (SELECT 1 FROM replies)").pluck().get() === 0) this.#seen = new Set();
    this.#select = db.prepare("SELECT text, reasoning, finish_reason, input_tokens, output_tokens, requests FROM replies WHERE key = ?");
    this.#insert = db.prepare("INSERT OR IGNORE INTO replies (key, text, reasoning, finish_reason, input_tokens, output_tokens, requests, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    this.#writeBatch = db.transaction((entries: readonly [Buffer, CachedReply][]) => {
      const now = Date.now();
      for (const [key, reply] of entries) {
        this.#insert.run(key, reply.text, reply.reasoning ?? null, reply.finishReason, reply.inputTokens, reply.outputTokens, reply.requests, now);
      }
    });
  }

  /** Opens (creating) `DIR/cache.sqlite`. */
  static open(dir: string): ResponseCache {
    const path = join(dir, CACHE_FILE);
    mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database | undefined;
    try {
      db = new Database(path);
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const applicationId = Number(db.pragma("application_id", { simple: true }));
      const tables = Number(db.prepare("SELECT count(*) AS n FROM sqlite_master").pluck().get());
      if (applicationId !== APPLICATION_ID && tables > 0) {
        throw new ChainetteError("CACHE", `${path} is not a chainette-stream response cache (another application's database); move it away or use --cache with another folder`);
      }
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.exec(SCHEMA);
      if (applicationId !== APPLICATION_ID) db.pragma(`application_id = ${APPLICATION_ID}`);
      return new ResponseCache(path, db);
    } catch (error) {
      db?.close();
      if (error instanceof ChainetteError) throw error;
      throw new ChainetteError("CACHE", `cannot open the response cache ${path}: ${(error as Error).message} (run with --no-cache to go without it)`);
    }
  }

  lookup(key: Buffer): CachedReply | undefined {
    if (this.#seen !== undefined && !this.#seen.has(key.readUIntBE(0, 6))) return undefined;
    const queued = this.#queue.get(key.toString("hex"));
    if (queued !== undefined) return queued[1];
    const row = this.#select.get(key);
    if (row === undefined) return undefined;
    return { text: row.text, reasoning: row.reasoning ?? undefined, finishReason: row.finish_reason, inputTokens: row.input_tokens, outputTokens: row.output_tokens, requests: row.requests };
  }

  store(key: Buffer, reply: CachedReply): void {
    if (this.#closed) return;
    if (this.#seen !== undefined) {
      this.#seen.add(key.readUIntBE(0, 6));
      if (this.#seen.size > MAX_SEEN) this.#seen = undefined;
    }
    this.#queue.set(key.toString("hex"), [key, reply]);
    if (this.#queue.size >= MAX_QUEUED) this.flush();
    else this.#flushScheduled ??= setImmediate(() => this.flush());
  }

  /** Writes the queued replies in one transaction. */
  flush(): void {
    if (this.#flushScheduled !== undefined) clearImmediate(this.#flushScheduled);
    this.#flushScheduled = undefined;
    if (this.#queue.size === 0 || this.#closed) return;
    const entries = [...this.#queue.values()];
    this.#queue = new Map();
    try {
      this.#writeBatch(entries);
    } catch {
      // A cache that cannot be written (disk full, locked for longer than the busy timeout) costs
      // only requests sent again later; the run's results never depend on it.
    }
  }

  /** What the cache holds: entries, their text, the oldest and newest (ms since the epoch), the files' bytes. */
  describe(): CacheDescription {
    this.flush();
    const row = this.#db
      .prepare("SELECT count(*) AS entries, coalesce(sum(length(text) + coalesce(length(reasoning), 0)), 0) AS textBytes, min(created_at) AS oldest, max(created_at) AS newest FROM replies")
      .get() as { entries: number; textBytes: number; oldest: number | null; newest: number | null };
    const bytes = CACHE_FILES.reduce((sum, name) => sum + fileSize(join(dirname(this.path), name)), 0);
    return { path: this.path, entries: row.entries, textBytes: row.textBytes, oldest: row.oldest, newest: row.newest, bytes };
  }

  /**
   * Deletes the replies stored before `cutoff` (ms since the epoch), in transactions of 10,000 so a
   * run sharing the cache waits for one short lock at a time; then gives the space back to the file
   * system (checkpoint, VACUUM). Returns the replies deleted. A run that needed one sends its
   * request again.
   */
  pruneBefore(cutoff: number): number {
    this.flush();
    const batch = this.#db.prepare("DELETE FROM replies WHERE id IN (SELECT id FROM replies WHERE created_at < ? LIMIT 10000)");
    let deleted = 0;
    for (;;) {
      const { changes } = batch.run(cutoff);
      deleted += changes;
      if (changes === 0) break;
    }
    if (deleted > 0) {
      this.#db.exec("VACUUM");
      this.#db.pragma("wal_checkpoint(TRUNCATE)");
    }
    return deleted;
  }

  /** Entries stored, for `inspect` and tests. */
  size(): number {
    return Number(this.#db.prepare("SELECT count(*) FROM replies").pluck().get());
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#db.close();
  }
}
