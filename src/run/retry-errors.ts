/**
 * `--retry-errors`: make the failed rows of an earlier session pending again. Every record of a
 * failed root row (its error record, the outputs of the nodes it passed, fan-out siblings) is
 * removed by rewriting the affected folders into *new* shard files, then one ledger transaction
 * swaps the shard lists and forgets the failures. A crash before that transaction leaves the new
 * files uncommitted (a resume deletes them); after it, the old files are (and are deleted).
 */
import { closeSync, fsyncSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { crashPoint } from "../crash-points.js";
import { traceDurable, tracingDurable } from "../durable-trace.js";
import { emptyNodeStats, type Ledger, type NodeStats, type ShardRecord } from "../ledger/ledger.js";
import { fsyncDirectory, shardFileName } from "./shard-writer.js";

export interface RetryReport {
  /** Root rows that will run again. */
  roots: number;
  /** Lines removed from each folder. */
  removed: Record<string, number>;
}

export function forgetFailedRows(outDir: string, ledger: Ledger, maxLinesPerFile: number): RetryReport {
  const failures = ledger.failures();
  const roots = new Set(failures.map((failure) => failure.root));
  const report: RetryReport = { roots: roots.size, removed: {} };
  if (roots.size === 0) return report;

  const byFolder = new Map<string, ShardRecord[]>();
  for (const shard of ledger.shards()) byFolder.set(shard.dir, [...(byFolder.get(shard.dir) ?? []), shard]);
  const rewritten = new Map<string, ShardRecord[]>();
  const oldFiles: string[] = [];
  for (const [dir, shards] of byFolder) {
    const rewrite = rewriteFolder(join(outDir, dir), dir, shards, roots, maxLinesPerFile);
    if (rewrite.removed === 0) {
      for (const path of rewrite.created) unlinkSync(path);
      if (tracingDurable) for (const path of rewrite.created) traceDurable({ op: "unlink", file: path });
      continue;
    }
    report.removed[dir] = rewrite.removed;
    rewritten.set(dir, rewrite.shards);
    oldFiles.push(...shards.map((shard) => join(outDir, dir, shardFileName(shard.seq))));
  }

  const nodes = new Map<string, NodeStats>();
  for (const [dir, removed] of Object.entries(report.removed)) {
    if (dir === "flattened" || dir === "errors") continue;
    nodes.set(dir, { ...emptyNodeStats(), ok: -removed });
  }
  for (const failure of failures) {
    const stats = nodes.get(failure.node) ?? emptyNodeStats();
    stats.failed--;
    nodes.set(failure.node, stats);
  }
  // Leaves that were filtered beside a failed one (fan-out) are redone with their root too.
  let filtered = 0;
  for (const [node, count] of ledger.filteredSiblings([...roots])) {
    const stats = nodes.get(node) ?? emptyNodeStats();
    stats.filtered -= count;
    nodes.set(node, stats);
    filtered += count;
  }
  const counters = { rows_in: -roots.size, ok: -(report.removed.flattened ?? 0), failed: -(report.removed.errors ?? 0), filtered: -filtered };
  crashPoint("retry-written");
  ledger.forgetFailures({ roots: [...roots], folders: rewritten, counters, nodes });
  crashPoint("retry-swapped");
  for (const path of oldFiles) unlinkSync(path);
  if (tracingDurable) for (const path of oldFiles) traceDurable({ op: "unlink", file: path });
  return report;
}

/** Writes the folder's kept lines into shards numbered after its last one; returns them. */
function rewriteFolder(folder: string, dir: string, shards: readonly ShardRecord[], roots: ReadonlySet<number>, maxLines: number): { shards: ShardRecord[]; removed: number; created: string[] } {
  let seq = Math.max(...shards.map((shard) => shard.seq)) + 1;
  const written: ShardRecord[] = [];
  const created: string[] = [];
  let pending: string[] = [];
  let removed = 0;
  const flush = (): void => {
    if (pending.length === 0) return;
    const buffer = Buffer.from(`${pending.join("\n")}\n`);
    const path = join(folder, shardFileName(seq));
    const fd = openSync(path, "w");
    try {
      writeSync(fd, buffer);
      if (tracingDurable) traceDurable({ op: "write", file: path, offset: 0, length: buffer.length });
      fsyncSync(fd);
      if (tracingDurable) traceDurable({ op: "fsync", file: path, length: buffer.length });
    } finally {
      closeSync(fd);
    }
    created.push(path);
    written.push({ dir, seq, lines: pending.length, bytes: buffer.length, crc: crc32(buffer), sealed: false });
    seq++;
    pending = [];
  };
  for (const shard of shards) {
    const text = readFileSync(join(folder, shardFileName(shard.seq)), "utf8");
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const rowId = /"row_id":"(\d+)/.exec(line)?.[1];
      if (rowId !== undefined && roots.has(Number(rowId))) {
        removed++;
        continue;
      }
      pending.push(line);
      if (pending.length >= maxLines) flush();
    }
  }
  flush();
  fsyncDirectory(folder);
  return { shards: written, removed, created };
}
