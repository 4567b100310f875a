/**
 * Forget root rows, so that the run does them again (`--retry-errors`, `--repair`): every record of
 * those roots (node outputs, flattened and error records, fan-out siblings) is removed by writing
 * the kept lines of each affected shard into *new* shard files, numbered after the folder's last
 * one; shards without such records stay as they are. Then one ledger transaction swaps the shard
 * lists, drops the roots from the done rows, their failures, filtered leaves and counts; it is made
 * durable, and only then are the replaced files deleted. A crash before that transaction leaves the
 * new files uncommitted (a resume deletes them), after it the old ones.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { crc32 } from "node:zlib";
import { crashPoint } from "../crash-points.js";
import { traceDurable, tracingDurable } from "../durable-trace.js";
import type { RootRange } from "./done-ranges.js";
import { emptyNodeStats, type Ledger, type NodeStats, type ShardRecord, type ShardRoots } from "./ledger.js";
import { addRootRange, fsyncDirectory, shardFileName } from "./shard-writer.js";

export interface ForgetRequest {
  /** The roots to forget, as sorted disjoint ranges. */
  roots: readonly RootRange[];
  /** Committed shards that cannot be read (damaged or missing): dropped whole, their files deleted. */
  damaged?: readonly ShardRecord[];
  maxLinesPerFile: number;
}

export interface ForgetReport {
  /** Root rows that will run again. */
  roots: number;
  /** Lines removed from each folder. */
  removed: Record<string, number>;
}

/** A root row's index from a record line: every record starts with `{"row_id":"<root>`. */
const ROOT_OF_LINE = /^\{"row_id":"(\d+)/;

export function forgetRoots(outDir: string, ledger: Ledger, request: ForgetRequest): ForgetReport {
  const roots = request.roots;
  const report: ForgetReport = { roots: roots.reduce((sum, [start, end]) => sum + end - start, 0), removed: {} };
  if (report.roots === 0) return report;
  const damaged = new Set((request.damaged ?? []).map((shard) => `${shard.dir}/${shard.seq}`));
  const tracked = ledger.rootsTracked();

  const byFolder = new Map<string, ShardRecord[]>();
  for (const shard of ledger.shards()) byFolder.set(shard.dir, [...(byFolder.get(shard.dir) ?? []), shard]);
  const folders = new Map<string, { shards: ShardRecord[]; roots: ShardRoots[] }>();
  const replaced: string[] = [];
  for (const [dir, shards] of byFolder) {
    const folder = join(outDir, dir);
    const recorded = ledger.shardRoots(dir);
    const rewrite = new FolderRewrite(folder, dir, Math.max(...shards.map((shard) => shard.seq)) + 1, request.maxLinesPerFile);
    const kept: ShardRecord[] = [];
    const keptRoots: ShardRoots[] = [];
    let removed = 0;
    for (const shard of shards) {
      const path = join(folder, shardFileName(shard.seq));
      if (damaged.has(`${dir}/${shard.seq}`)) {
        removed += shard.lines;
        replaced.push(path);
        continue;
      }
      const shardRoots = recorded.get(shard.seq) ?? [];
      if (tracked && !overlaps(shardRoots, roots)) {
        kept.push(shard);
        for (const [start, end] of shardRoots) keptRoots.push({ dir, seq: shard.seq, start, end });
        continue;
      }
      const keptLines: string[] = [];
      let dropped = 0;
      for (const line of readFileSync(path, "utf8").split("\n")) {
        if (line === "") continue;
        if (isForgotten(line, roots)) dropped++;
        else keptLines.push(line);
      }
      if (dropped === 0) {
        kept.push(shard);
        for (const [start, end] of shardRoots) keptRoots.push({ dir, seq: shard.seq, start, end });
        continue;
      }
      removed += dropped;
      replaced.push(path);
      for (const line of keptLines) rewrite.add(line);
    }
    rewrite.finish();
    if (removed === 0) continue;
    report.removed[dir] = removed;
    folders.set(dir, { shards: [...kept, ...rewrite.shards], roots: [...keptRoots, ...rewrite.roots] });
  }

  const nodes = new Map<string, NodeStats>();
  const node = (id: string): NodeStats => {
    let stats = nodes.get(id);
    if (stats === undefined) nodes.set(id, (stats = emptyNodeStats()));
    return stats;
  };
  for (const [dir, removed] of Object.entries(report.removed)) if (dir !== "flattened" && dir !== "errors" && dir !== "filtered") node(dir).ok -= removed;
  for (const [id, count] of ledger.failuresByNode(roots)) node(id).failed -= count;
  let filtered = 0;
  for (const [id, count] of ledger.filteredLeaves(roots)) {
    node(id).filtered -= count;
    filtered += count;
  }
  const counters = { rows_in: -report.roots, ok: -(report.removed.flattened ?? 0), failed: -(report.removed.errors ?? 0), filtered: -filtered };
  // The replaced files may go only once the ledger no longer lists them, on disk: a durable swap.
  crashPoint("retry-written");
  ledger.forgetRoots({ roots, folders, counters, nodes }, { durable: true });
  crashPoint("retry-swapped");
  for (const path of replaced) {
    rmSync(path, { force: true });
    if (tracingDurable) traceDurable({ op: "unlink", file: path });
  }
  return report;
}

/** Sorted disjoint root ranges of these roots (for `--retry-errors`'s failed roots). */
export function rootRanges(roots: Iterable<number>): RootRange[] {
  const pairs: number[] = [];
  for (const root of [...new Set(roots)].sort((a, b) => a - b)) addRootRange(pairs, root, root + 1);
  const ranges: RootRange[] = [];
  for (let i = 0; i < pairs.length; i += 2) ranges.push([pairs[i] as number, pairs[i + 1] as number]);
  return ranges;
}

/** Sorted disjoint ranges of the union of ranges in any order. */
export function mergeRootRanges(ranges: readonly RootRange[]): RootRange[] {
  const merged: [number, number][] = [];
  for (const [start, end] of [...ranges].sort((a, b) => a[0] - b[0])) {
    const last = merged.at(-1);
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

function isForgotten(line: string, roots: readonly RootRange[]): boolean {
  const root = ROOT_OF_LINE.exec(line)?.[1];
  return root !== undefined && contains(roots, Number(root));
}

/** Whether sorted disjoint ranges hold `root` (binary search). */
function contains(ranges: readonly RootRange[], root: number): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [start, end] = ranges[middle] as RootRange;
    if (root < start) high = middle - 1;
    else if (root >= end) low = middle + 1;
    else return true;
  }
  return false;
}

function overlaps(shardRoots: readonly RootRange[], roots: readonly RootRange[]): boolean {
  return shardRoots.some(([start, end]) => roots.some(([from, to]) => start < to && from < end));
}

/** The kept lines of a folder's affected shards, written into new shards of `maxLines` lines. */
class FolderRewrite {
  readonly shards: ShardRecord[] = [];
  readonly roots: ShardRoots[] = [];
  private pending: string[] = [];
  private createdFolder = false;

  constructor(private readonly folder: string, private readonly dir: string, private seq: number, private readonly maxLines: number) {}

  add(line: string): void {
    this.pending.push(line);
    if (this.pending.length >= this.maxLines) this.flush();
  }

  /** Writes the last lines and makes the folder's new entries durable. */
  finish(): void {
    this.flush();
    if (this.shards.length > 0) fsyncDirectory(this.folder);
    if (this.createdFolder) fsyncDirectory(dirname(this.folder));
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const buffer = Buffer.from(`${this.pending.join("\n")}\n`);
    if (!existsSync(this.folder)) {
      mkdirSync(this.folder, { recursive: true });
      this.createdFolder = true;
    }
    const path = join(this.folder, shardFileName(this.seq));
    const fd = openSync(path, "w");
    try {
      let written = 0;
      while (written < buffer.length) written += writeSync(fd, buffer, written, buffer.length - written);
      if (tracingDurable) traceDurable({ op: "write", file: path, offset: 0, length: buffer.length });
      fsyncSync(fd);
      if (tracingDurable) traceDurable({ op: "fsync", file: path, length: buffer.length });
    } finally {
      closeSync(fd);
    }
    const pairs: number[] = [];
    for (const line of this.pending) {
      const root = ROOT_OF_LINE.exec(line)?.[1];
      if (root !== undefined) addRootRange(pairs, Number(root), Number(root) + 1);
    }
    for (let i = 0; i < pairs.length; i += 2) this.roots.push({ dir: this.dir, seq: this.seq, start: pairs[i] as number, end: pairs[i + 1] as number });
    this.shards.push({ dir: this.dir, seq: this.seq, lines: this.pending.length, bytes: buffer.length, crc: crc32(buffer), sealed: false });
    this.seq++;
    this.pending = [];
  }
}
