/**
 * Pages of a run's committed shard rows, by cursor, forward from a cursor or backward from one (the
 * tail is backward from the end), each reading only what it shows whatever the run's size. JSONL
 * shards (a JSONL run's, and a Parquet run's staging shards) are read by bytes, 64 KiB at a time;
 * sealed Parquet shards by rows (`sealed-shard-rows.ts`: the row groups that hold them). A cursor
 * names a shard and a row's place in it:
 * - a JSONL run: `seq:offset`, the byte where the row's line starts;
 * - a Parquet run: `seq:rROW` in a sealed shard, `seq:rROW:OFFSET` in a staging shard (the row's
 *   number and where its line starts), so a cursor stays good when its shard is sealed meanwhile.
 * `seq:0` is the start of a shard in both. Only committed rows are read: a live run's shards may
 * end with a line still being written.
 */
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import type { ShardRecord } from "./ledger.js";
import { stagingFolder } from "./parquet-sealer.js";
import { rootsOf, sealedRows } from "./sealed-shard-rows.js";
import { shardFileName } from "./shard-writer.js";

/** One row of a page: where it is, and its JSON line. */
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
}

/** A place in a shard: a row's number (Parquet runs), the byte its line starts at (JSONL shards), or both. */
interface Place {
  seq: number;
  row?: number | undefined;
  offset?: number | undefined;
}

/** A line of a JSONL shard: where it starts, its number from where the read began, its text. */
interface ShardLine {
  offset: number;
  index: number;
  text: string;
}

const CHUNK = 64 * 1024;
/** A line longer than this is cut (its cursor still opens it whole in a row's detail). */
export const MAX_LINE_CHARS = 256 * 1024;
/** The most lines `findRoot` returns from one shard. */
const MAX_ROOT_LINES = 50;

export function parseCursor(cursor: string | undefined): Place | undefined {
  const match = /^(\d{1,9}):(?:r(\d{1,15})(?::(\d{1,15}))?|(\d{1,15}))$/.exec(cursor ?? "");
  if (match === null) return undefined;
  const seq = Number(match[1]);
  if (match[4] !== undefined) return Number(match[4]) === 0 ? { seq, row: 0, offset: 0 } : { seq, offset: Number(match[4]) };
  return { seq, row: Number(match[2]), offset: match[3] === undefined ? undefined : Number(match[3]) };
}

/** How `findRoot` narrows a long JSONL shard before it scans (bytes). */
export interface SeekOptions {
  /** Bisect while the range is longer than this. @default 256 KiB */
  minBytes?: number;
  /** Start scanning this far before the bisected offset (rows arrive nearly, not exactly, in order). @default 1 MiB */
  marginBytes?: number;
  /** Give up the narrowed scan after this many bytes without the row, and scan the shard whole. @default 4 MiB */
  windowBytes?: number;
}

/** Shard rows of one folder: `shards` are the run's committed records (those of `dir` are paged, in seq order). */
export class ShardPages {
  private readonly shards: ShardRecord[];
  private readonly seek: Required<SeekOptions>;
  /** Whether each shard is sealed, decided once for this page (see `sealed`). */
  private readonly sealedNow = new Map<number, boolean>();

  constructor(private readonly outDir: string, private readonly dir: string, shards: readonly ShardRecord[], private readonly parquet: boolean, seek: SeekOptions = {}) {
    this.seek = { minBytes: seek.minBytes ?? 256 * 1024, marginBytes: seek.marginBytes ?? 1024 * 1024, windowBytes: seek.windowBytes ?? 4 * 1024 * 1024 };
    this.shards = shards.filter((shard) => shard.dir === dir).sort((a, b) => a.seq - b.seq);
  }

  /** `limit` lines from `cursor` on (from the start when absent). */
  async forward(cursor: string | undefined, limit: number): Promise<LinePage> {
    const at = parseCursor(cursor) ?? { seq: this.shards[0]?.seq ?? 0, row: 0, offset: 0 };
    const lines: PagedLine[] = [];
    let end = { place: at, shard: this.shards.find((shard) => shard.seq === at.seq) };
    for (const shard of this.shards) {
      if (shard.seq < at.seq) continue;
      const from = shard.seq === at.seq ? at : { seq: shard.seq, row: 0, offset: 0 };
      const read = this.sealed(shard) ? await this.sealedForward(shard, from, limit - lines.length) : this.linesForward(shard, from, limit - lines.length);
      lines.push(...read.lines);
      end = { place: read.end, shard };
      if (lines.length >= limit) break;
    }
    return { lines, next: this.cursorOf(end.shard, end.place), previous: this.previousOf(lines) };
  }

  /** The `limit` lines before `cursor` (the last lines when absent: the tail). */
  async backward(cursor: string | undefined, limit: number): Promise<LinePage> {
    const last = this.shards.at(-1);
    const given = parseCursor(cursor);
    const end = given ?? { seq: last?.seq ?? 0, row: last?.lines ?? 0, offset: last?.bytes ?? 0 };
    const lines: PagedLine[] = [];
    for (let i = this.shards.length - 1; i >= 0 && lines.length < limit; i--) {
      const shard = this.shards[i] as ShardRecord;
      if (shard.seq > end.seq) continue;
      const to = shard.seq === end.seq ? end : { seq: shard.seq, row: shard.lines, offset: shard.bytes };
      const found = this.sealed(shard) ? await this.sealedBackward(shard, to, limit - lines.length) : this.linesBackward(shard, to, limit - lines.length);
      lines.unshift(...found);
    }
    const next = given === undefined ? this.cursorOf(this.shards.find((shard) => shard.seq === end.seq), end) : (cursor as string);
    return { lines, next, previous: this.previousOf(lines) };
  }

  /** The whole line at `cursor`, when it is a committed row's place. */
  async lineAt(cursor: string): Promise<string | undefined> {
    const at = parseCursor(cursor);
    const shard = this.shards.find((candidate) => candidate.seq === at?.seq);
    if (at === undefined || shard === undefined) return undefined;
    if (this.sealed(shard)) {
      const row = at.row ?? (at.offset === 0 ? 0 : undefined);
      if (row === undefined || row >= shard.lines) return undefined;
      const [record] = await sealedRows(this.sealedPath(shard), row, row + 1);
      return record === undefined ? undefined : JSON.stringify(record);
    }
    const offset = at.offset ?? (at.row === undefined ? undefined : this.offsetOfRow(shard, at.row));
    if (offset === undefined || offset >= shard.bytes) return undefined;
    if (offset > 0) {
      // A cursor is a line's start: the byte before it is a newline.
      const fd = this.open(shard);
      try {
        if (readAt(fd, offset - 1, 1).toString() !== "\n") return undefined;
      } finally {
        closeSync(fd);
      }
    }
    return this.scan(shard, offset, () => true).found[0]?.text;
  }

  /**
   * The lines of shard `seq` that belong to root row `root` and for which `keep` holds (at most 50).
   * A sealed shard: the rows whose ids have that root, found from its `row_id` column. A JSONL shard:
   * a root's lines are written together, and roots nearly in input order, so a long shard is
   * bisected by the roots of the lines it holds, then scanned from a margin before that point until
   * the root's block of lines ends. When the row is not within the window, the shard is scanned
   * whole, so the answer never depends on the order rows finished in.
   */
  async findRoot(seq: number, root: number, keep: (line: string) => boolean): Promise<PagedLine[]> {
    const shard = this.shards.find((candidate) => candidate.seq === seq);
    if (shard === undefined) return [];
    if (this.sealed(shard)) return this.sealedRoot(shard, root, keep);
    const found = this.linesOfRoot(shard, root, keep);
    const rows = this.parquet ? this.rowsAt(shard, found.map((line) => line.offset)) : [];
    return found.map((line, index) => ({ cursor: this.cursorOf(shard, { seq, offset: line.offset, row: rows[index] }), text: line.text }));
  }

  private linesOfRoot(shard: ShardRecord, root: number, keep: (line: string) => boolean): ShardLine[] {
    let start = this.bisect(shard, root);
    while (start > 0) {
      const near = this.scanBlock(shard, start, keep);
      if (near === undefined) break;
      // A block that begins at the first whole line may have begun before `start`: look again from further back.
      if (!near.atFirstLine) return near.lines;
      start = Math.max(0, start - this.seek.marginBytes);
    }
    return this.scan(shard, 0, keep, MAX_ROOT_LINES).found;
  }

  private async sealedRoot(shard: ShardRecord, root: number, keep: (line: string) => boolean): Promise<PagedLine[]> {
    const path = this.sealedPath(shard);
    const roots = await rootsOf(path);
    const lines: PagedLine[] = [];
    // The rows of a root are together: read each run of them.
    for (let row = roots.indexOf(root); row !== -1 && row < roots.length && lines.length < MAX_ROOT_LINES; row = roots.indexOf(root, row)) {
      let stop = row;
      while (stop < roots.length && stop - row < MAX_ROOT_LINES && roots[stop] === root) stop++;
      const records = await sealedRows(path, row, stop);
      records.forEach((record, index) => {
        const text = JSON.stringify(record);
        if (lines.length < MAX_ROOT_LINES && keep(text)) lines.push({ cursor: `${shard.seq}:r${row + index}`, text });
      });
      row = stop;
    }
    return lines;
  }

  private async sealedForward(shard: ShardRecord, from: Place, most: number): Promise<{ lines: PagedLine[]; end: Place }> {
    const start = Math.min(from.row ?? 0, shard.lines);
    const records = await sealedRows(this.sealedPath(shard), start, Math.min(shard.lines, start + most));
    const lines = records.map((record, index) => ({ cursor: `${shard.seq}:r${start + index}`, text: cut(JSON.stringify(record)) }));
    return { lines, end: { seq: shard.seq, row: start + records.length } };
  }

  private async sealedBackward(shard: ShardRecord, to: Place, most: number): Promise<PagedLine[]> {
    const stop = Math.min(to.row ?? 0, shard.lines);
    const start = Math.max(0, stop - most);
    const records = await sealedRows(this.sealedPath(shard), start, stop);
    return records.map((record, index) => ({ cursor: `${shard.seq}:r${start + index}`, text: cut(JSON.stringify(record)) }));
  }

  private linesForward(shard: ShardRecord, from: Place, most: number): { lines: PagedLine[]; end: Place } {
    const { offset, row } = this.resolve(shard, from);
    const { found, end, passed } = this.scan(shard, offset, () => true, most);
    const lines = found.map((line) => ({ cursor: this.cursorOf(shard, { seq: shard.seq, offset: line.offset, row: row === undefined ? undefined : row + line.index }), text: cut(line.text) }));
    return { lines, end: { seq: shard.seq, offset: end, row: row === undefined ? undefined : row + passed } };
  }

  /** The last `most` whole lines before a place of a JSONL shard, read back a chunk at a time. */
  private linesBackward(shard: ShardRecord, to: Place, most: number): PagedLine[] {
    const { offset: stop, row: stopRow } = this.resolve(shard, to);
    const fd = this.open(shard);
    let found: { offset: number; text: string }[] = [];
    try {
      let from = stop;
      let buffer = Buffer.alloc(0);
      while (from > 0) {
        const size = Math.min(CHUNK, from);
        from -= size;
        buffer = Buffer.concat([readAt(fd, from, size), buffer]);
        found = linesOf(buffer, from);
        if (found.length > most) break;
      }
      // A first line that may have started before `from` is not whole.
      if (from > 0) found.shift();
    } finally {
      closeSync(fd);
    }
    found = found.slice(Math.max(0, found.length - most));
    return found.map((line, index) => ({
      cursor: this.cursorOf(shard, { seq: shard.seq, offset: line.offset, row: stopRow === undefined ? undefined : stopRow - found.length + index }),
      text: line.text,
    }));
  }

  /**
   * A place of a JSONL shard as a byte offset, and its row number in a Parquet run (its staging
   * shards' cursors carry it): counted when the place does not say it (a cursor made elsewhere).
   */
  private resolve(shard: ShardRecord, place: Place): { offset: number; row: number | undefined } {
    const offset = Math.min(place.offset ?? this.offsetOfRow(shard, place.row ?? 0), shard.bytes);
    if (!this.parquet) return { offset, row: undefined };
    return { offset, row: place.row ?? this.rowsAt(shard, [offset])[0] };
  }

  /** Where line `row` of a JSONL shard starts (its end when it has fewer lines). */
  private offsetOfRow(shard: ShardRecord, row: number): number {
    if (row <= 0) return 0;
    const { found, end } = this.scan(shard, 0, () => true, row + 1);
    return found[row]?.offset ?? end;
  }

  /** The row number of the line starting at each of `offsets` (ascending) of a JSONL shard: newlines before it. */
  private rowsAt(shard: ShardRecord, offsets: readonly number[]): number[] {
    const rows: number[] = [];
    const last = offsets.at(-1) ?? 0;
    const fd = this.open(shard);
    try {
      let newlines = 0;
      let next = 0;
      for (let position = 0; position < last && next < offsets.length; ) {
        const chunk = readAt(fd, position, Math.min(CHUNK, last - position));
        if (chunk.length === 0) break;
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) {
          while (next < offsets.length && (offsets[next] as number) <= position + at) rows[next++] = newlines;
          newlines++;
        }
        position += chunk.length;
      }
      while (next < offsets.length) rows[next++] = newlines;
    } finally {
      closeSync(fd);
    }
    return rows;
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
  private scanBlock(shard: ShardRecord, start: number, keep: (line: string) => boolean): { lines: ShardLine[]; atFirstLine: boolean } | undefined {
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
    }, MAX_ROOT_LINES);
    return found.length > 0 ? { lines: found, atFirstLine } : undefined;
  }

  /**
   * The first `most` lines from byte `from` for which `keep` holds, the offset after the last line
   * read and how many lines were passed; a chunk at a time, so a long shard is never read whole.
   * `keep` may answer "stop".
   */
  private scan(shard: ShardRecord, from: number, keep: (line: string) => boolean | "stop", most = 1): { found: ShardLine[]; end: number; passed: number } {
    const fd = this.open(shard);
    const found: ShardLine[] = [];
    let lineStart = from;
    let passed = 0;
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
          if (kept === "stop") return { found, end: lineStart, passed };
          if (kept) found.push({ offset: lineStart, index: passed, text });
          passed++;
          lineStart += newline + 1;
          buffer = buffer.subarray(newline + 1);
          newline = buffer.indexOf(10);
        }
        carry = Buffer.from(buffer);
      }
    } finally {
      closeSync(fd);
    }
    return { found, end: lineStart, passed };
  }

  /** A cursor for a place: see the file's comment. */
  private cursorOf(shard: ShardRecord | undefined, place: Place): string {
    if (!this.parquet) return `${place.seq}:${place.offset ?? 0}`;
    if (shard === undefined) return `${place.seq}:r${place.row ?? 0}`;
    if (this.sealed(shard)) return `${shard.seq}:r${place.row ?? 0}`;
    return `${shard.seq}:r${place.row ?? 0}:${place.offset ?? 0}`;
  }

  /** The first line's cursor, or null when it is the first row of the folder. */
  private previousOf(lines: readonly PagedLine[]): string | null {
    const first = lines[0];
    const firstShard = this.shards[0];
    if (first === undefined || firstShard === undefined) return null;
    return first.cursor === this.cursorOf(firstShard, { seq: firstShard.seq, row: 0, offset: 0 }) ? null : first.cursor;
  }

  /**
   * Whether a shard is a sealed Parquet file: the ledger says so, or it was sealed since the ledger
   * was read (the staging file goes once the seal is committed).
   */
  private sealed(shard: ShardRecord): boolean {
    if (!this.parquet) return false;
    if (shard.sealed) return true;
    let sealed = this.sealedNow.get(shard.seq);
    if (sealed === undefined) this.sealedNow.set(shard.seq, (sealed = !existsSync(this.linesPath(shard)) && existsSync(this.sealedPath(shard))));
    return sealed;
  }

  private sealedPath(shard: ShardRecord): string {
    return join(this.outDir, this.dir, shardFileName(shard.seq, "parquet"));
  }

  private linesPath(shard: ShardRecord): string {
    const folder = this.parquet ? stagingFolder(this.outDir, this.dir) : join(this.outDir, this.dir);
    return join(folder, shardFileName(shard.seq));
  }

  private open(shard: ShardRecord): number {
    return openSync(this.linesPath(shard), "r");
  }
}

function readAt(fd: number, position: number, size: number): Buffer {
  const buffer = Buffer.alloc(size);
  const read = readSync(fd, buffer, 0, size, position);
  return read === size ? buffer : buffer.subarray(0, read);
}

/** The whole lines of `buffer` (which starts at byte `from` of the shard and ends at a line's end), cut. */
function linesOf(buffer: Buffer, from: number): { offset: number; text: string }[] {
  const lines: { offset: number; text: string }[] = [];
  let start = 0;
  for (let newline = buffer.indexOf(10); newline !== -1; newline = buffer.indexOf(10, start)) {
    lines.push({ offset: from + start, text: cut(buffer.subarray(start, newline).toString("utf8")) });
    start = newline + 1;
  }
  return lines;
}

function cut(line: string): string {
  return line.length > MAX_LINE_CHARS ? line.slice(0, MAX_LINE_CHARS) : line;
}
