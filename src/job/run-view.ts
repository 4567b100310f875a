/**
 * What the viewer shows of one run, read from its folder without changing anything: the ledger
 * (read-only; SQLite in WAL mode lets it be read while the run commits), the lock's holder, the
 * summary, and the shards (by cursor, see `durability/shard-pages.ts`). Each call opens the ledger
 * and closes it again, so a run that starts, ends or is resumed meanwhile is simply seen as it is now.
 * Text that may hold a URL (commands, error messages) has its credentials redacted.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { INPUT_ROWS_META, ROLLUP_BUCKET_MS, type RollupRecord } from "../durability/ledger-rollups.js";
import { Ledger, type FailureRecord, type SessionRecord } from "../durability/ledger.js";
import { readOutDirHolder } from "../durability/outdir-lock.js";
import { ShardPages, type LinePage } from "../durability/shard-pages.js";
import { redactUrls } from "../engines/redact-urls.js";
import type { RunIdentity } from "./run-identity.js";
import type { RunSummary } from "./summary.js";

export type RunState = "running" | "stalled" | "stopped" | "complete" | "not started";

/** No commit for this long while the run's process lives: the run is stalled. */
export const STALLED_AFTER_MS = 60_000;

export interface RunSnapshot {
  state: RunState;
  /** How the last session ended when it did not complete: `failed`, `killed`, `stopped`. */
  ended: string | null;
  /** Why it is in that state (the session's reason, the stall's length), null when running or complete. */
  why: string | null;
  chain: string | null;
  format: string;
  nodes: string[];
  folders: string[];
  holder: { live: boolean; pid: number | null; host: string | null; started_at: string | null; command: string | null } | null;
  tiles: {
    done: number; total: number | null; ok: number; failed: number; filtered: number;
    rows_per_s: number; tokens_per_s: number; eta_s: number | null; elapsed_s: number;
    input_tokens: number; output_tokens: number; commits: number;
  };
  node_table: { node: string; ok: number; failed: number; filtered: number; input_tokens: number; output_tokens: number; p50_ms: number; p90_ms: number; p99_ms: number }[];
  sessions: SessionRecord[];
  /** The last commit's bucket start (ms since the epoch), null before the first (or before schema v5). */
  last_bucket: number | null;
  resume_command: string | null;
}

/** The most points `rollups()` returns: older buckets are merged in wider ones (a week at 10 s is 60k). */
export const MAX_POINTS = 720;

export interface RollupPoint {
  /** The point's start (ms since the epoch) and width (10 s, or a multiple for a long run). */
  t: number;
  width_ms: number;
  rows: number; ok: number; failed: number; filtered: number; requests: number; retries: number;
  input_tokens: number; output_tokens: number; p50_ms: number; p90_ms: number; p99_ms: number;
}

/** The run folders under `root`: `root` itself when it holds a ledger, else its sub-folders that do (3 levels deep). */
export function findRuns(root: string): string[] {
  if (existsSync(join(root, "ledger.sqlite"))) return [root];
  const runs: string[] = [];
  const visit = (folder: string, depth: number): void => {
    let entries: string[];
    try {
      entries = readdirSync(folder).sort(naturalOrder);
    } catch {
      return;
    }
    for (const name of entries) {
      if (name.startsWith(".")) continue;
      const path = join(folder, name);
      if (!isFolder(path)) continue;
      if (existsSync(join(path, "ledger.sqlite"))) runs.push(path);
      else if (depth < 3) visit(path, depth + 1);
    }
  };
  visit(root, 1);
  return runs;
}

/** A run's name in a multi-run folder: its path below the root (`shards/0-of-4`). */
export function runName(root: string, run: string): string {
  return relative(root, run) || ".";
}

export class RunView {
  constructor(readonly dir: string) {}

  snapshot(now = Date.now()): RunSnapshot {
    return this.withLedger((ledger) => {
      const counters = ledger.counters();
      const identity = ledger.getMeta<RunIdentity>("identity");
      const { holder, live } = readOutDirHolder(this.dir);
      const sessions = ledger.sessions();
      const last = sessions.at(-1);
      const summary = this.summary();
      const recent = ledger.rollups(now - 5 * 60_000, "");
      const lastBucket = recent.at(-1)?.bucket ?? ledger.rollups(0, "").at(-1)?.bucket ?? null;
      const done = ledger.done().count();
      const knownTotal = summary?.input_rows ?? ledger.getMeta<number>(INPUT_ROWS_META) ?? null;
      const complete = last?.status === "complete";
      const total = complete ? done : knownTotal === null ? null : Math.max(knownTotal, done);
      let state: RunState = "not started";
      let ended: string | null = null;
      let why: string | null = null;
      if (last !== undefined && last.status === "running" && live) {
        const lastCommitEnd = lastBucket === null ? Date.parse(last.started_at) : Math.max(lastBucket + ROLLUP_BUCKET_MS, Date.parse(last.started_at));
        const quietMs = now - lastCommitEnd;
        state = quietMs > STALLED_AFTER_MS ? "stalled" : "running";
        if (state === "stalled") why = `no rows committed for ${Math.round(quietMs / 1000)} s while the run's process lives (an engine down or hung requests?)`;
      } else if (last !== undefined && last.status === "running") {
        state = "stopped";
        ended = "killed";
        why = "killed or crashed: the session never ended and no process holds the OUTDIR (SIGKILL, out of memory, power loss); run the same command to resume";
      } else if (last !== undefined) {
        state = complete ? "complete" : "stopped";
        ended = complete ? null : last.status;
        why = last.reason === null ? null : redactUrls(last.reason);
      }
      const running = state === "running" || state === "stalled";
      const pastWallMs = sessions.reduce((sum, session) => sum + session.wall_ms, 0);
      const elapsedMs = pastWallMs + (running && last !== undefined ? Math.max(0, now - Date.parse(last.started_at)) : 0);
      // Rates over the last minute of buckets while running; the whole run's average once it ended.
      const window = recent.filter((rollup) => rollup.bucket >= now - 60_000 - ROLLUP_BUCKET_MS);
      const windowMs = Math.max(ROLLUP_BUCKET_MS, now - (window[0]?.bucket ?? now));
      const rate = (pick: (rollup: RollupRecord) => number, whole: number): number =>
        running ? round1((window.reduce((sum, rollup) => sum + pick(rollup), 0) / windowMs) * 1000) : elapsedMs > 0 ? round1((whole / elapsedMs) * 1000) : 0;
      const rowsPerS = rate((rollup) => rollup.rows, done);
      const tokensPerS = rate((rollup) => rollup.inputTokens + rollup.outputTokens, (counters.input_tokens ?? 0) + (counters.output_tokens ?? 0));
      const nodes = Object.keys(identity?.nodes ?? {});
      const stats = ledger.nodeStats();
      return {
        state, ended, why,
        chain: identity?.chain ?? null,
        format: identity?.format ?? "jsonl",
        nodes,
        folders: ["flattened", "errors", ...(identity?.writeFiltered ? ["filtered"] : []), ...nodes],
        holder: holder === undefined && !live ? null : { live, pid: holder?.pid ?? null, host: holder?.host ?? null, started_at: holder?.started_at ?? null, command: holder === undefined ? null : redactUrls(holder.command) },
        tiles: {
          done, total, ok: counters.ok ?? 0, failed: counters.failed ?? 0, filtered: counters.filtered ?? 0,
          rows_per_s: rowsPerS, tokens_per_s: tokensPerS,
          eta_s: running && total !== null && rowsPerS > 0 ? Math.round((total - done) / rowsPerS) : null,
          elapsed_s: Math.round(elapsedMs / 1000),
          input_tokens: counters.input_tokens ?? 0, output_tokens: counters.output_tokens ?? 0,
          commits: ledger.commits(),
        },
        node_table: [...stats].filter(([node]) => node !== "" && node !== "input").map(([node, s]) => ({
          node, ok: s.ok, failed: s.failed, filtered: s.filtered, input_tokens: s.inputTokens, output_tokens: s.outputTokens,
          p50_ms: s.latency.quantile(0.5), p90_ms: s.latency.quantile(0.9), p99_ms: s.latency.quantile(0.99),
        })),
        sessions: sessions.map((session) => ({ ...session, reason: session.reason === null ? null : redactUrls(session.reason) })),
        last_bucket: lastBucket,
        resume_command: summary?.resume_command === undefined ? null : redactUrls(summary.resume_command),
      };
    });
  }

  /**
   * The whole run's buckets from `since` on (ms since the epoch), oldest first: at most
   * `MAX_POINTS`, consecutive buckets merged (counts summed, latency histograms merged) when more.
   */
  rollups(since = 0): RollupPoint[] {
    return this.withLedger((ledger) => {
      const buckets = ledger.rollups(since, "");
      const first = buckets[0]?.bucket ?? 0;
      const span = (buckets.at(-1)?.bucket ?? first) - first + ROLLUP_BUCKET_MS;
      const width = Math.max(1, Math.ceil(span / ROLLUP_BUCKET_MS / MAX_POINTS)) * ROLLUP_BUCKET_MS;
      const merged: RollupRecord[] = [];
      for (const bucket of buckets) {
        const start = first + Math.floor((bucket.bucket - first) / width) * width;
        const into = merged.at(-1);
        if (into === undefined || into.bucket !== start) {
          merged.push({ ...bucket, bucket: start });
          continue;
        }
        into.rows += bucket.rows; into.ok += bucket.ok; into.failed += bucket.failed; into.filtered += bucket.filtered;
        into.requests += bucket.requests; into.retries += bucket.retries; into.inputTokens += bucket.inputTokens; into.outputTokens += bucket.outputTokens;
        into.latency.merge(bucket.latency);
      }
      return merged.map((rollup) => ({
        t: rollup.bucket, width_ms: width, rows: rollup.rows, ok: rollup.ok, failed: rollup.failed, filtered: rollup.filtered, requests: rollup.requests, retries: rollup.retries,
        input_tokens: rollup.inputTokens, output_tokens: rollup.outputTokens,
        p50_ms: rollup.latency.quantile(0.5), p90_ms: rollup.latency.quantile(0.9), p99_ms: rollup.latency.quantile(0.99),
      }));
    });
  }

  errorGroups(): { node: string; type: string; count: number; sample: string; sample_row_id: string }[] {
    return this.withLedger((ledger) => ledger.failureGroups().map((group) => ({ node: group.node, type: group.type, count: group.count, sample: redactUrls(group.sample), sample_row_id: group.sampleRowId })));
  }

  /** One error group's failures after the cursor `root:row_id`, in input order. */
  failures(group: { node: string; type: string }, after: string | undefined, limit: number): { failures: FailureRecord[]; next: string | null } {
    const match = /^(\d{1,15}):(.{1,200})$/.exec(after ?? "");
    return this.withLedger((ledger) => {
      const failures = ledger.failuresOf(group, match === null ? undefined : [Number(match[1]), match[2] as string], limit).map(redactFailure);
      const last = failures.at(-1);
      return { failures, next: failures.length === limit && last !== undefined ? `${last.root}:${last.rowId}` : null };
    });
  }

  /** A page of one output folder's rows: after a cursor, before one, or the tail (neither). */
  async rows(folder: string, page: { after?: string | undefined; before?: string | undefined }, limit: number): Promise<LinePage & { folder: string }> {
    const result = await readingAcrossSeal(() => {
      const pages = this.withLedger((ledger) => this.pages(ledger, folder));
      return page.after !== undefined ? pages.forward(page.after, limit) : pages.backward(page.before, limit);
    });
    return { folder, ...result, lines: result.lines.map((line) => ({ ...line, text: redactLine(folder, line.text) })) };
  }

  /**
   * Everything the run recorded about one row: its line in each folder (the flattened record or
   * error record, each node's output records, its ancestors' and fan-out children's included) and
   * its failure in the ledger. Found through the ledger's shard roots: only the shards holding its
   * root are read.
   */
  row(rowId: string): Promise<{ row_id: string; records: { folder: string; cursor: string; text: string }[]; failure: FailureRecord | null }> {
    return readingAcrossSeal(() => this.readRow(rowId));
  }

  private async readRow(rowId: string): Promise<{ row_id: string; records: { folder: string; cursor: string; text: string }[]; failure: FailureRecord | null }> {
    const root = Number(rowId.split(".")[0]);
    const { searches, failure } = this.withLedger((ledger) => {
      const identity = ledger.getMeta<RunIdentity>("identity");
      const folders = ["flattened", "errors", ...(identity?.writeFiltered ? ["filtered"] : []), ...Object.keys(identity?.nodes ?? {})];
      return {
        searches: folders.map((folder) => ({
          folder,
          pages: this.pages(ledger, folder),
          seqs: [...ledger.shardRoots(folder)].filter(([, ranges]) => ranges.some(([start, end]) => start <= root && root < end)).map(([seq]) => seq),
        })),
        failure: ledger.failureOf(rowId),
      };
    });
    const records: { folder: string; cursor: string; text: string }[] = [];
    for (const { folder, pages, seqs } of searches) {
      for (const seq of seqs) {
        for (const line of await pages.findRoot(seq, root, (text) => relatedRow(lineRowId(text), rowId))) records.push({ folder, cursor: line.cursor, text: redactLine(folder, line.text) });
      }
    }
    return { row_id: rowId, records, failure: failure === undefined ? null : redactFailure(failure) };
  }

  /** The line at a cursor of a folder (a row opened from the row browser). */
  async line(folder: string, cursor: string): Promise<string | undefined> {
    const line = await readingAcrossSeal(() => this.withLedger((ledger) => this.pages(ledger, folder)).lineAt(cursor));
    return line === undefined ? undefined : redactLine(folder, line);
  }

  private pages(ledger: Ledger, folder: string): ShardPages {
    return new ShardPages(this.dir, folder, ledger.shards(), ledger.getMeta<RunIdentity>("identity")?.format === "parquet");
  }

  private summary(): (Partial<RunSummary> & { input_rows?: number | null }) | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, "summary.json"), "utf8")) as Partial<RunSummary>;
    } catch {
      return undefined;
    }
  }

  private withLedger<T>(read: (ledger: Ledger) => T): T {
    const ledger = Ledger.open(join(this.dir, "ledger.sqlite"), { readonly: true });
    try {
      return read(ledger);
    } finally {
      ledger.close();
    }
  }
}

/** The `row_id` a shard line starts with (every record's first field), or undefined. */
export function lineRowId(line: string): string | undefined {
  const match = /^\{"row_id":"([\d.]+)"/.exec(line);
  return match?.[1];
}

/** The same row, one of its ancestors (a node's record before a fan-out) or one of its fan-out children. */
function relatedRow(candidate: string | undefined, rowId: string): boolean {
  if (candidate === undefined) return false;
  return candidate === rowId || candidate.startsWith(`${rowId}.`) || rowId.startsWith(`${candidate}.`);
}

/**
 * An error record's message may name an endpoint: its credentials are redacted, as in the ledger's
 * failures. Other records are the run's data, shown exactly as written.
 */
function redactLine(folder: string, text: string): string {
  return folder === "errors" ? redactUrls(text) : text;
}

function redactFailure(failure: FailureRecord): FailureRecord {
  return { ...failure, message: redactUrls(failure.message) };
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** `2-of-10` before `10-of-10`. */
function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/**
 * Runs a read of shard files once more when a file it was told of is gone: a live Parquet run sealed
 * the staging shard between the ledger read and the file read, and the second read's ledger names
 * the sealed file instead.
 */
async function readingAcrossSeal<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    return read();
  }
}
