/**
 * Pages of a run's committed JSONL shard lines, by cursor: a cursor is a shard and a byte offset in
 * it (`seq:offset`), so a page reads only its own bytes (a few KB) whatever the run's size, forward
 * from a cursor or backward from one (the tail is backward from the end). Only committed bytes are
 * read: a live run's shards may end with a line still being written. Sealed Parquet shards have no
 * lines to page; `pageRows` says so.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import type { ShardRecord } from "./ledger.js";
import { stagingFolder } from "./parquet-sealer.js";
import { shardFileName } from "./shard-writer.js";

/** One line of a page: where it starts, and its text. */
export interface PagedLine {
  cursor: string;
  text: string;
}

export interface LinePage {
  lines: PagedLine[];
  /** The cursor after the last line (page forward from it; at the end, poll it for new lines). */
  next: string;
  /** The cursor of the first line (page backward from it); null at the start of the folder. */
  previous: string | null;
  /** Shards of this folder that are sealed Parquet files, whose rows these pages leave out. */
  sealedShards: number;
}

const CHUNK = 64 * 1024;
/** A line longer than this is cut (its cursor still opens it whole in a row's detail). */
export const MAX_LINE_CHARS = 256 * 1024;

export function parseCursor(cursor: string | undefined): { seq: number; offset: number } | undefined {
  const match = /^(\d{1,9}):(\d{1,15})$/.exec(cursor ?? "");
  return match === null ? undefined : { seq: Number(match[1]), offset: Number(match[2]) };
}

/** Shard lines of one folder: `shards` are the folder's committed records, in seq order. */
export class ShardPages {
  private readonly shards: ShardRecord[];

  constructor(private readonly outDir: string, dir: string, shards: readonly ShardRecord[], private readonly parquet: boolean) {
    this.shards = shards.filter((shard) => shard.dir === dir).sort((a, b) => a.seq - b.seq);
    this.dir = dir;
  }

  private readonly dir: string;

  /** `limit` lines from `cursor` on (from the start when absent). */
  forward(cursor: string | undefined, limit: number): LinePage {
    let at = parseCursor(cursor) ?? { seq: this.shards[0]?.seq ?? 0, offset: 0 };
    const lines: PagedLine[] = [];
    for (const shard of this.lineShards()) {
      if (shard.seq < at.seq) continue;
      if (shard.seq > at.seq) at = { seq: shard.seq, offset: 0 };
      const { found, end } = this.scan(shard, at.offset, () => true, limit - lines.length);
      lines.push(...found.map((line) => ({ cursor: line.cursor, text: cut(line.text) })));
      at = { seq: shard.seq, offset: end };
      if (lines.length >= limit) break;
    }
    const first = lines[0];
    return { lines, next: `${at.seq}:${at.offset}`, previous: first === undefined || first.cursor === `${this.shards[0]?.seq ?? 0}:0` ? null : first.cursor, sealedShards: this.sealedCount() };
  }

  /** The `limit` lines before `cursor` (the last lines when absent: the tail). */
  backward(cursor: string | undefined, limit: number): LinePage {
    const shards = this.lineShards();
    const last = shards.at(-1);
    const end = parseCursor(cursor) ?? { seq: last?.seq ?? 0, offset: last?.bytes ?? 0 };
    const lines: PagedLine[] = [];
    for (let i = shards.length - 1; i >= 0 && lines.length < limit; i--) {
      const shard = shards[i] as ShardRecord;
      if (shard.seq > end.seq) continue;
      const stop = shard.seq === end.seq ? Math.min(end.offset, shard.bytes) : shard.bytes;
      const fd = this.open(shard);
      try {
        // Read back a chunk at a time until `limit` whole lines (or the start of the shard) are in hand.
        let from = stop;
        let buffer = Buffer.alloc(0);
        let found: PagedLine[] = [];
        while (from > 0) {
          const size = Math.min(CHUNK, from);
          from -= size;
          buffer = Buffer.concat([readAt(fd, from, size), buffer]);
          found = linesOf(buffer, from, shard.seq);
          if (found.length > limit - lines.length) break;
        }
        // A first line that may have started before `from` is not whole.
        if (from > 0) found.shift();
        lines.unshift(...found.slice(Math.max(0, found.length - (limit - lines.length))));
      } finally {
        closeSync(fd);
      }
    }
    const first = lines[0];
    const endCursor = parseCursor(cursor) === undefined ? `${end.seq}:${end.offset}` : (cursor as string);
    return { lines, next: endCursor, previous: first === undefined || first.cursor === `${shards[0]?.seq ?? 0}:0` ? null : first.cursor, sealedShards: this.sealedCount() };
  }

  /** The whole line at `cursor`, when it is a committed line's start. */
  lineAt(cursor: string): string | undefined {
    const at = parseCursor(cursor);
    const shard = this.lineShards().find((candidate) => candidate.seq === at?.seq);
    if (at === undefined || shard === undefined || at.offset >= shard.bytes) return undefined;
    if (at.offset > 0) {
      // A cursor is a line's start: the byte before it is a newline.
      const fd = this.open(shard);
      try {
        if (readAt(fd, at.offset - 1, 1).toString() !== "\n") return undefined;
      } finally {
        closeSync(fd);
      }
    }
    return this.scan(shard, at.offset, () => true).found[0]?.text;
  }

  /** The lines of shard `seq` for which `keep(line)` holds (at most 50), read a chunk at a time. */
  find(seq: number, keep: (line: string) => boolean): PagedLine[] {
    const shard = this.lineShards().find((candidate) => candidate.seq === seq);
    return shard === undefined ? [] : this.scan(shard, 0, keep, 50).found;
  }

  /**
   * The first `most` lines from byte `from` for which `keep` holds, and the offset after the last
   * line read; a chunk at a time, so a long shard is never read whole.
   */
  private scan(shard: ShardRecord, from: number, keep: (line: string) => boolean, most = 1): { found: PagedLine[]; end: number } {
    const fd = this.open(shard);
    const found: PagedLine[] = [];
    let lineStart = from;
    try {
      let position = from;
      let carry = Buffer.alloc(0);
      while (position < shard.bytes && found.length < most) {
        const chunk = readAt(fd, position, Math.min(CHUNK, shard.bytes - position));
        // A file shorter than its committed length (damaged, or cut by hand): what is there is all.
        if (chunk.length === 0) break;
        position += chunk.length;
        let buffer = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
        let newline = buffer.indexOf(10);
        while (newline !== -1 && found.length < most) {
          const text = buffer.subarray(0, newline).toString("utf8");
          if (keep(text)) found.push({ cursor: `${shard.seq}:${lineStart}`, text });
          lineStart += newline + 1;
          buffer = buffer.subarray(newline + 1);
          newline = buffer.indexOf(10);
        }
        carry = Buffer.from(buffer);
      }
    } finally {
      closeSync(fd);
    }
    return { found, end: lineStart };
  }

  private lineShards(): ShardRecord[] {
    return this.parquet ? this.shards.filter((shard) => !shard.sealed) : this.shards;
  }

  private sealedCount(): number {
    return this.shards.filter((shard) => shard.sealed).length;
  }

  private open(shard: ShardRecord): number {
    const folder = this.parquet ? stagingFolder(this.outDir, this.dir) : join(this.outDir, this.dir);
    return openSync(join(folder, shardFileName(shard.seq)), "r");
  }
}

function readAt(fd: number, position: number, size: number): Buffer {
  const buffer = Buffer.alloc(size);
  const read = readSync(fd, buffer, 0, size, position);
  return read === size ? buffer : buffer.subarray(0, read);
}

/** The whole lines of `buffer` (which starts at byte `from` of the shard and ends at a line's end). */
function linesOf(buffer: Buffer, from: number, seq: number): PagedLine[] {
  const lines: PagedLine[] = [];
  let start = 0;
  for (let newline = buffer.indexOf(10); newline !== -1; newline = buffer.indexOf(10, start)) {
    lines.push({ cursor: `${seq}:${from + start}`, text: cut(buffer.subarray(start, newline).toString("utf8")) });
    start = newline + 1;
  }
  return lines;
}

function cut(line: string): string {
  return line.length > MAX_LINE_CHARS ? line.slice(0, MAX_LINE_CHARS) : line;
}
