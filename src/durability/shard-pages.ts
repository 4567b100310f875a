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

/** How `findRoot` narrows a long shard before it scans (bytes). */
export interface SeekOptions {
  /** Bisect while the range is longer than this. @default 256 KiB */
  minBytes?: number;
  /** Start scanning this far before the bisected offset (rows arrive nearly, not exactly, in order). @default 1 MiB */
  marginBytes?: number;
  /** Give up the narrowed scan after this many bytes without the row, and scan the shard whole. @default 4 MiB */
  windowBytes?: number;
}

/** Shard lines of one folder: `shards` are the folder's committed records, in seq order. */
export class ShardPages {
  private readonly shards: ShardRecord[];
  private readonly seek: Required<SeekOptions>;

  constructor(private readonly outDir: string, dir: string, shards: readonly ShardRecord[], private readonly parquet: boolean, seek: SeekOptions = {}) {
    this.seek = { minBytes: seek.minBytes ?? 256 * 1024, marginBytes: seek.marginBytes ?? 1024 * 1024, windowBytes: seek.windowBytes ?? 4 * 1024 * 1024 };
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

  /**
   * The lines of shard `seq` that belong to root row `root` and for which `keep` holds (at most 50).
   * A root's lines are written together, and roots nearly in input order: a long shard is bisected
   * by the roots of the lines it holds, then scanned from a margin before that point until the
   * root's block of lines ends. When the row is not within the window, the shard is scanned whole,
   * so the answer never depends on the order rows finished in.
   */
  findRoot(seq: number, root: number, keep: (line: string) => boolean): PagedLine[] {
    const shard = this.lineShards().find((candidate) => candidate.seq === seq);
    if (shard === undefined) return [];
    let start = this.bisect(shard, root);
    while (start > 0) {
      const near = this.scanBlock(shard, start, keep);
      if (near === undefined) break;
      // A block that begins at the first whole line may have begun before `start`: look again from further back.
      if (!near.atFirstLine) return near.lines;
      start = Math.max(0, start - this.seek.marginBytes);
    }
    return this.scan(shard, 0, keep, 50).found;
  }

  /** A line start at or before the lines of `root` (by bisection on the lines' roots), or 0. */
  private bisect(shard: ShardRecord, root: number): number {
    let low = 0;
    let high = shard.bytes;
    const fd = this.open(shard);
    try {
      while (high - low > this.seek.minBytes) {
        const middle = Math.floor((low + high) / 2);
        const probe = readAt(fd, middle, Math.min(CHUNK, shard.bytes - middle)).toString("utf8");
        const newline = probe.indexOf("\n");
        const found = newline === -1 ? undefined : /^\{"row_id":"(\d+)/.exec(probe.slice(newline + 1));
        if (found === undefined || found === null) break;
        if (Number(found[1]) < root) low = middle;
        else high = middle;
      }
    } finally {
      closeSync(fd);
    }
    return Math.max(0, low - this.seek.marginBytes);
  }

  /**
   * From `start`, the block of lines `keep` holds for, read to its end; undefined when it does not
   * begin within the window.
   */
  private scanBlock(shard: ShardRecord, start: number, keep: (line: string) => boolean): { lines: PagedLine[]; atFirstLine: boolean } | undefined {
    let inBlock = false;
    let seen = 0;
    let whole = 0;
    let atFirstLine = false;
    const fd = this.open(shard);
    let skipFirst: boolean;
    try {
      skipFirst = readAt(fd, start - 1, 1).toString() !== "\n";
    } finally {
      closeSync(fd);
    }
    const { found } = this.scan(shard, start, (line) => {
      if (skipFirst) {
        // The first piece is the end of a line that started before `start`.
        skipFirst = false;
        return false;
      }
      whole++;
      if (keep(line)) {
        if (!inBlock) atFirstLine = whole === 1;
        return (inBlock = true);
      }
      if (inBlock) return "stop";
      seen += line.length + 1;
      return seen > this.seek.windowBytes ? "stop" : false;
    }, 50);
    return found.length > 0 ? { lines: found, atFirstLine } : undefined;
  }

  /**
   * The first `most` lines from byte `from` for which `keep` holds, and the offset after the last
   * line read; a chunk at a time, so a long shard is never read whole. `keep` may answer "stop".
   */
  private scan(shard: ShardRecord, from: number, keep: (line: string) => boolean | "stop", most = 1): { found: PagedLine[]; end: number } {
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
          const kept = keep(text);
          if (kept === "stop") return { found, end: lineStart };
          if (kept) found.push({ cursor: `${shard.seq}:${lineStart}`, text });
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
