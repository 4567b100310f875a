/**
 * The end of the pipeline: gathers leaf rows into their root rows, writes the records of every
 * completed root to the shards, and commits on a cadence: snapshot the shards, fsync them, then
 * record in one ledger transaction the shard lengths and the rows now done. A crash at any point
 * leaves the ledger describing a prefix of every shard, and nothing else as done.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ChainetteError } from "../errors.js";
import { emptyNodeStats, type FailureRecord, type Ledger, type NodeStats } from "../ledger/ledger.js";
import type { DoneRow } from "../ledger/done-ranges.js";
import type { RunEvent } from "./events.js";
import { stagingFolder, type ParquetSealer } from "./parquet-sealer.js";
import { errorLine, FlattenedLines, nodeLine } from "./record-lines.js";
import type { Row, RootRow } from "./row.js";
import { ShardWriter } from "./shard-writer.js";

export interface CommitSinkOptions {
  outDir: string;
  nodeIds: readonly string[];
  ledger: Ledger;
  maxLinesPerFile: number;
  emit: (event: RunEvent) => void;
  /** Time between commits. @default 1000 */
  commitIntervalMs?: number;
  /** Stop (resumably) when failed / finished leaf rows passes this, after `minRowsForErrorRate`. */
  maxErrorRate?: number;
  /** @default 100 */
  minRowsForErrorRate?: number;
  /** `--format parquet`: shards are staged as JSONL and sealed into Parquet when they roll. */
  parquet?: ParquetSealer;
}

/** What has been written since the last commit and is waiting to be made durable. */
class PendingCommit {
  rows: DoneRow[] = [];
  failures: FailureRecord[] = [];
  counters = { rows_in: 0, ok: 0, failed: 0, filtered: 0, input_tokens: 0, output_tokens: 0 };
  nodes = new Map<string, NodeStats>();

  node(id: string): NodeStats {
    let stats = this.nodes.get(id);
    if (stats === undefined) this.nodes.set(id, (stats = emptyNodeStats()));
    return stats;
  }
}

export class CommitSink {
  private readonly writers = new Map<string, ShardWriter>();
  private readonly flattened: FlattenedLines;
  private pending = new PendingCommit();
  private committing: Promise<void> | undefined;
  private lastCommit = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private timerError: Error | undefined;
  private poisoned = false;
  /** This session's leaf counts, for the error-rate guard. */
  private readonly session = { ok: 0, failed: 0 };
  /** Settles when `consume` has made its last commit and closed the shards. */
  private consumed: Promise<void> | undefined;

  constructor(private readonly options: CommitSinkOptions) {
    this.flattened = new FlattenedLines(options.nodeIds);
    const committed = options.ledger.shards();
    for (const dir of [...options.nodeIds, "flattened", "errors"]) {
      const path = options.parquet ? stagingFolder(options.outDir, dir) : join(options.outDir, dir);
      mkdirSync(path, { recursive: true });
      const last = committed.filter((shard) => shard.dir === dir).at(-1);
      this.writers.set(dir, new ShardWriter(path, dir, options.maxLinesPerFile, last));
    }
  }

  /** Consumes the pipeline's leaf rows until it ends; commits on the way and at the end. */
  async consume(source: AsyncIterable<Row[]>): Promise<void> {
    const consumed = this.consumeRows(source);
    this.consumed = consumed.catch(() => undefined);
    await consumed;
  }

  /**
   * `--format parquet`, once the run has ended (complete, stopped or failed): seals every shard the
   * ledger committed, so the folders hold only Parquet files. Rows written but not committed stay
   * out (they are not done; a resume redoes them into a new shard).
   */
  async sealOpenShards(): Promise<void> {
    if (this.options.parquet === undefined) return;
    await this.consumed;
    while (this.committing) await this.committing;
    await this.options.parquet.sealCommitted();
    this.options.parquet.removeEmptyStaging([...this.writers.keys()]);
  }

  private async consumeRows(source: AsyncIterable<Row[]>): Promise<void> {
    const interval = this.options.commitIntervalMs ?? 1000;
    // Rows can finish while the pipeline waits on slow requests: commit them on a timer too.
    this.timer = setInterval(() => {
      if (performance.now() - this.lastCommit >= interval) this.commit().catch((error: unknown) => (this.timerError ??= error instanceof Error ? error : new Error(String(error))));
    }, Math.max(50, interval / 2));
    try {
      for await (const leaves of source) {
        if (this.timerError) throw this.timerError;
        this.accept(leaves);
        if (performance.now() - this.lastCommit >= interval) await this.commit();
      }
    } finally {
      clearInterval(this.timer);
      await this.commit();
      for (const writer of this.writers.values()) writer.close();
    }
    if (this.timerError) throw this.timerError;
  }

  private accept(leaves: readonly Row[]): void {
    const completed: RootRow[] = [];
    for (const leaf of leaves) {
      const root = leaf.root;
      root.leaves.push(leaf);
      for (const record of leaf.records) root.records.push(record);
      if (--root.pending === 0) completed.push(root);
    }
    if (completed.length === 0) return;

    const lines = new Map<string, string[]>();
    const push = (dir: string, line: string): void => {
      let list = lines.get(dir);
      if (list === undefined) lines.set(dir, (list = []));
      list.push(line);
    };
    const pending = new PendingCommit();
    for (const root of completed) {
      pending.rows.push({ index: root.index, end: root.end });
      pending.counters.rows_in++;
      for (const record of root.records) {
        push(record.node, nodeLine(record));
        const stats = pending.node(record.node);
        stats.ok++;
        stats.inputTokens += record.inputTokens;
        stats.outputTokens += record.outputTokens;
        stats.latency.record(record.latencyMs);
        pending.counters.input_tokens += record.inputTokens;
        pending.counters.output_tokens += record.outputTokens;
      }
      for (const leaf of root.leaves) {
        if (leaf.state === "active") {
          push("flattened", this.flattened.line(leaf));
          pending.counters.ok++;
        } else if (leaf.state === "failed") {
          push("errors", errorLine(leaf));
          pending.counters.failed++;
          const failure = leaf.failure;
          if (failure) {
            pending.node(failure.node).failed++;
            pending.failures.push({ rowId: leaf.id, root: root.index, node: failure.node, type: failure.type, message: failure.message, attempts: failure.attempts, status: failure.status });
          }
        } else {
          pending.counters.filtered++;
          pending.node(leaf.filteredBy ?? "").filtered++;
        }
      }
    }
    // Write first; only rows whose lines reached the files join the pending commit. A failed write
    // may have left part of this batch in some shards: nothing more is committed in this session
    // (a resume redoes the rows since the last commit and cuts those bytes away).
    try {
      for (const [dir, list] of lines) this.writer(dir).append(list);
    } catch (error) {
      this.poisoned = true;
      throw error;
    }
    this.merge(pending);
    this.session.ok += pending.counters.ok;
    this.session.failed += pending.counters.failed;
    this.checkErrorRate();
  }

  /** Makes everything written so far durable, then records it in the ledger. */
  async commit(): Promise<void> {
    while (this.committing) await this.committing;
    const pending = this.pending;
    if (pending.rows.length === 0 || this.poisoned) return;
    this.pending = new PendingCommit();
    const snapshots = [...this.writers.values()].map((writer) => writer.snapshot());
    this.committing = (async () => {
      const shards = (await Promise.all(snapshots.map((snapshot) => snapshot.sync()))).flat();
      this.options.ledger.commit({ shards, rows: pending.rows, failures: pending.failures, counters: pending.counters, nodes: pending.nodes });
      // Shards that rolled are complete and now committed whole: seal them before the next commit.
      await this.options.parquet?.seal(snapshots.flatMap((snapshot) => snapshot.rolled));
      this.lastCommit = performance.now();
      const { ok, failed, filtered } = pending.counters;
      this.options.emit({ type: "commit", rows: pending.rows.length, ok, failed, filtered, watermark: this.options.ledger.done().watermark });
    })();
    try {
      await this.committing;
    } finally {
      this.committing = undefined;
    }
  }

  private writer(dir: string): ShardWriter {
    const writer = this.writers.get(dir);
    if (writer === undefined) throw new ChainetteError("LEDGER", `no output folder for node \`${dir}\``);
    return writer;
  }

  private merge(from: PendingCommit): void {
    const into = this.pending;
    into.rows.push(...from.rows);
    into.failures.push(...from.failures);
    for (const key of Object.keys(from.counters) as (keyof PendingCommit["counters"])[]) into.counters[key] += from.counters[key];
    for (const [node, stats] of from.nodes) {
      const target = into.node(node);
      target.ok += stats.ok;
      target.failed += stats.failed;
      target.filtered += stats.filtered;
      target.inputTokens += stats.inputTokens;
      target.outputTokens += stats.outputTokens;
      target.latency.merge(stats.latency);
    }
  }

  private checkErrorRate(): void {
    const limit = this.options.maxErrorRate;
    if (limit === undefined) return;
    const finished = this.session.ok + this.session.failed;
    if (finished < (this.options.minRowsForErrorRate ?? 100)) return;
    const rate = this.session.failed / finished;
    if (rate > limit) {
      throw new ChainetteError("ERROR_RATE", `${this.session.failed} of ${finished} rows failed (${(rate * 100).toFixed(1)}%), above --max-error-rate ${limit}; fix the cause and run the same command to resume`);
    }
  }
}
