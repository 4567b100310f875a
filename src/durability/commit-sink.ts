/**
 * The end of the pipeline: writes the records of every completed root row (gathered by
 * `pipeline/gather-roots.ts`) to the shards, and commits on a cadence: snapshot the shards, fsync them, then
 * record in one ledger transaction the shard lengths and the rows now done. A crash at any point
 * leaves the ledger describing a prefix of every shard, and nothing else as done.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { crashPoint } from "../crash-points.js";
import { ChainetteError } from "../errors.js";
import { emptyNodeStats, type FailureRecord, type FilteredRange, type FilteredSiblings, type Ledger, type NodeStats, type ShardRecord } from "./ledger.js";
import { DoneBatch } from "./done-ranges.js";
import type { RunEvent } from "../pipeline/events.js";
import { stagingFolder, type ParquetSealer } from "./parquet-sealer.js";
import { errorLine, filteredLine, RecordLines } from "../pipeline/record-lines.js";
import type { CompletedRoot } from "../pipeline/gather-roots.js";
import type { NodeRecord, Row, RootRow } from "../pipeline/row.js";
import { addRootRange, ShardWriter } from "./shard-writer.js";
import { CircuitBreaker, DEFAULT_CIRCUIT_BREAKER, type CircuitBreakerOptions } from "./circuit-breaker.js";
import type { RequestTally } from "./request-tally.js";

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
  /**
   * Stop (resumably, `CIRCUIT_OPEN`) when more than `rate` of the last `window` finished leaf rows
   * failed; `false` turns it off. @default DEFAULT_CIRCUIT_BREAKER (100 rows, 0.9)
   */
  circuitBreaker?: CircuitBreakerOptions | false;
  /** `--format parquet`: shards are staged as JSONL and sealed into Parquet when they roll. */
  parquet?: ParquetSealer;
  /** `--write-filtered`: one record per filtered leaf in `filtered/`. @default false */
  writeFiltered?: boolean;
  /** Requests and retries for each commit's rollup (listening to the run's events); without it, 0. */
  tally?: RequestTally;
}

/** What has been written since the last commit and is waiting to be made durable. */
class PendingCommit {
  rows = new DoneBatch();
  failures: FailureRecord[] = [];
  filteredSiblings: FilteredSiblings[] = [];
  /** Roots that did not fan out and whose leaf was filtered, by node, as flat `[start, end)` pairs. */
  filteredRoots = new Map<string, number[]>();
  counters = { rows_in: 0, ok: 0, failed: 0, filtered: 0, input_tokens: 0, output_tokens: 0, cache_hits: 0, requests_saved: 0, input_tokens_saved: 0, output_tokens_saved: 0 };
  nodes = new Map<string, NodeStats>();

  filtered(node: string): number[] {
    let pairs = this.filteredRoots.get(node);
    if (pairs === undefined) this.filteredRoots.set(node, (pairs = []));
    return pairs;
  }

  filteredRanges(): FilteredRange[] {
    const ranges: FilteredRange[] = [];
    for (const [node, pairs] of this.filteredRoots) for (let i = 0; i < pairs.length; i += 2) ranges.push({ node, start: pairs[i] as number, end: pairs[i + 1] as number });
    return ranges;
  }

  node(id: string): NodeStats {
    let stats = this.nodes.get(id);
    if (stats === undefined) this.nodes.set(id, (stats = emptyNodeStats()));
    return stats;
  }
}

export class CommitSink {
  private readonly writers = new Map<string, ShardWriter>();
  private readonly lines: RecordLines;
  private readonly flattenedWriter: ShardWriter;
  private readonly errorsWriter: ShardWriter;
  private readonly filteredWriter: ShardWriter | undefined;
  private pending = new PendingCommit();
  private committing: Promise<void> | undefined;
  private lastCommit = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private commitError: Error | undefined;
  private poisoned = false;
  /** This session's leaf counts, for the error-rate guard. */
  private readonly session = { ok: 0, failed: 0 };
  private readonly breaker: CircuitBreaker | undefined;
  /** Settles when `consume` has made its last commit and closed the shards. */
  private consumed: Promise<void> | undefined;

  constructor(private readonly options: CommitSinkOptions) {
    this.lines = new RecordLines(options.nodeIds);
    const breaker = options.circuitBreaker ?? DEFAULT_CIRCUIT_BREAKER;
    this.breaker = breaker === false ? undefined : new CircuitBreaker(breaker);
    const committed = options.ledger.shards();
    for (const dir of [...options.nodeIds, "flattened", "errors", ...(options.writeFiltered ? ["filtered"] : [])]) {
      const path = options.parquet ? stagingFolder(options.outDir, dir) : join(options.outDir, dir);
      mkdirSync(path, { recursive: true });
      const last = committed.filter((shard) => shard.dir === dir).at(-1);
      this.writers.set(dir, new ShardWriter(path, dir, options.maxLinesPerFile, last));
    }
    this.flattenedWriter = this.writer("flattened");
    this.errorsWriter = this.writer("errors");
    this.filteredWriter = options.writeFiltered ? this.writer("filtered") : undefined;
  }

  /** Consumes the pipeline's leaf rows until it ends; commits on the way and at the end. */
  async consume(source: AsyncIterable<CompletedRoot[]>): Promise<void> {
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

  private async consumeRows(source: AsyncIterable<CompletedRoot[]>): Promise<void> {
    const interval = this.options.commitIntervalMs ?? 1000;
    // A commit snapshots the shards at once, then fsyncs and writes the ledger while rows keep
    // flowing: the pipeline never waits on the disk. One commit at a time; the timer commits rows
    // that finish while the pipeline waits on slow requests.
    const commitWhenDue = (): void => {
      if (this.committing !== undefined || performance.now() - this.lastCommit < interval) return;
      this.commit().catch((error: unknown) => (this.commitError ??= error instanceof Error ? error : new Error(String(error))));
    };
    this.timer = setInterval(commitWhenDue, Math.max(50, interval / 2));
    try {
      for await (const roots of source) {
        if (this.commitError) throw this.commitError;
        this.accept(roots);
        commitWhenDue();
      }
    } finally {
      clearInterval(this.timer);
      try {
        await this.commit(true);
      } finally {
        for (const writer of this.writers.values()) writer.close();
      }
    }
    if (this.commitError) throw this.commitError;
  }

  private accept(roots: readonly CompletedRoot[]): void {
    if (roots.length === 0) return;
    const pending = new PendingCommit();
    try {
      for (const { root, leaves, records, leafRecords, fannedOut } of roots) {
        this.writeRecords(records, root.index, pending);
        for (const leaf of leaves) this.writeLeaf(leaf, root, pending, fannedOut, leafRecords);
        pending.rows.push(root.index, root.end);
        pending.counters.rows_in++;
      }
      for (const writer of this.writers.values()) writer.flush();
    } catch (error) {
      // A failed write may have left part of this batch in some shards: nothing more is committed
      // in this session (a resume redoes the rows since the last commit and cuts those bytes away).
      this.poisoned = true;
      throw error;
    }
    this.merge(pending);
    this.session.ok += pending.counters.ok;
    this.session.failed += pending.counters.failed;
    this.checkErrorRate();
    this.breaker?.check();
  }

  private writeRecords(records: readonly NodeRecord[], root: number, pending: PendingCommit): void {
    for (const record of records) {
      this.writer(record.node).addLine(this.lines.node(record), root);
      const stats = pending.node(record.node);
      stats.ok++;
      stats.inputTokens += record.inputTokens;
      stats.outputTokens += record.outputTokens;
      pending.counters.input_tokens += record.inputTokens;
      pending.counters.output_tokens += record.outputTokens;
      // A reply from the response cache saved its request: counted with the row, at its commit.
      if (record.cached === undefined) stats.latency.record(record.latencyMs);
      else {
        pending.counters.cache_hits++;
        pending.counters.requests_saved += record.cached.requests;
        pending.counters.input_tokens_saved += record.cached.inputTokens;
        pending.counters.output_tokens_saved += record.cached.outputTokens;
      }
    }
  }

  /** `records`: the leaf's own records, when they are all its outputs (see `RecordLines.flattened`). */
  private writeLeaf(leaf: Row, root: RootRow, pending: PendingCommit, fannedOut: boolean, records: readonly NodeRecord[] | undefined): void {
    this.breaker?.record(leaf);
    if (leaf.state === "active") {
      this.flattenedWriter.addLine(this.lines.flattened(leaf, records), root.index);
      pending.counters.ok++;
    } else if (leaf.state === "failed") {
      this.errorsWriter.addLine(errorLine(leaf), root.index);
      pending.counters.failed++;
      const failure = leaf.failure;
      if (failure) {
        pending.node(failure.node).failed++;
        pending.failures.push({ rowId: leaf.id, root: root.index, node: failure.node, type: failure.type, message: failure.message, attempts: failure.attempts, status: failure.status });
      }
    } else {
      this.filteredWriter?.addLine(filteredLine(leaf), root.index);
      pending.counters.filtered++;
      pending.node(leaf.filteredBy ?? "").filtered++;
      // --retry-errors and --repair redo whole roots: each root's filtered leaves leave the counts with it.
      if (!fannedOut) addRootRange(pending.filtered(leaf.filteredBy ?? ""), root.index, root.index + 1);
      else pending.filteredSiblings.push({ root: root.index, node: leaf.filteredBy ?? "", count: 1 });
    }
  }

  /** Makes everything written so far durable, then records it in the ledger. */
  /** @param last the pipeline has ended: nothing reads any more, so every file syncs at once */
  async commit(last = false): Promise<void> {
    while (this.committing) await this.committing;
    const pending = this.pending;
    if (pending.rows.count === 0 || this.poisoned) return;
    this.pending = new PendingCommit();
    const snapshots = [...this.writers.values()].map((writer) => writer.snapshot());
    const shardRoots = snapshots.flatMap((snapshot) => snapshot.roots);
    const started = performance.now();
    this.committing = (async () => {
      // One fsync at a time while the pipeline runs: libuv has four pool threads, and the input's
      // reads must not queue behind a commit's fsyncs (that stalled the whole pipeline at every commit).
      const shards: ShardRecord[] = last
        ? (await Promise.all(snapshots.map((snapshot) => snapshot.sync(true)))).flat()
        : [];
      if (!last) for (const snapshot of snapshots) shards.push(...(await snapshot.sync()));
      crashPoint("shard-synced");
      const synced = performance.now();
      const tally = this.options.tally;
      const rollup = { at: Date.now(), ...(tally?.take() ?? { requests: 0, retries: 0 }), inputRows: tally?.inputRows, ...(tally === undefined ? {} : { requestNodes: tally.requestNodes }) };
      this.options.ledger.commit({ shards, rows: pending.rows.ranges, failures: pending.failures, counters: pending.counters, nodes: pending.nodes, filteredSiblings: pending.filteredSiblings, filteredRanges: pending.filteredRanges(), shardRoots, rollup });
      crashPoint("ledger-committed");
      const ledgerMs = performance.now() - synced;
      // Shards that rolled are complete and now committed whole: seal them before the next commit.
      await this.options.parquet?.seal(snapshots.flatMap((snapshot) => snapshot.rolled));
      this.lastCommit = performance.now();
      const { ok, failed, filtered } = pending.counters;
      this.options.emit({ type: "commit", rows: pending.rows.count, ok, failed, filtered, watermark: this.options.ledger.done().watermark, syncMs: synced - started, ledgerMs });
    })();
    try {
      await this.committing;
    } catch (error) {
      // The shards may now hold synced bytes of rows the ledger does not call done: a later commit
      // would cover them with a committed length, and a resume would write those rows again.
      this.poisoned = true;
      throw error;
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
    into.rows.append(from.rows);
    into.failures.push(...from.failures);
    into.filteredSiblings.push(...from.filteredSiblings);
    for (const [node, pairs] of from.filteredRoots) {
      const target = into.filtered(node);
      for (let i = 0; i < pairs.length; i += 2) addRootRange(target, pairs[i] as number, pairs[i + 1] as number);
    }
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
