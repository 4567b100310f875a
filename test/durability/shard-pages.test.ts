/**
 * `ShardPages` on real shard files: a row's lines found by bisecting a long shard are exactly the
 * lines a whole scan finds, whether rows finished nearly in order or far out of it (then the whole
 * shard is scanned), and pages by cursor cover every line once, forward and backward. In a Parquet
 * run's folder (sealed `.parquet` shards, then JSONL staging shards) the same holds, each row read
 * back as the JSON record it was, and a cursor taken in a staging shard still holds once that shard
 * is sealed.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileWriter, parquetWrite } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ShardRecord } from "../../src/durability/ledger.js";
import { stagingFolder } from "../../src/durability/parquet-sealer.js";
import { sealedRows } from "../../src/durability/sealed-shard-rows.js";
import { ShardPages, type LinePage } from "../../src/durability/shard-pages.js";
import { jsonColumn, stringColumn, type ParquetColumn } from "../../src/io/parquet-columns.js";
import { parquetSchemaElements, parquetValue } from "../../src/io/parquet-schema.js";
import { writeParquetShard } from "../../src/io/parquet-writer.js";
import { SeededRandom } from "../../src/sim/seeded-random.js";

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "shard-pages-"));
  mkdirSync(join(work, "out"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Writes `out/000.jsonl` with each root's lines together (every 5th root fans out in 3), roots in `order`. */
function writeShard(order: readonly number[]): { shard: ShardRecord; lines: string[] } {
  const lines: string[] = [];
  for (const root of order) {
    const ids = root % 5 === 0 ? [`${root}.0`, `${root}.1`, `${root}.2`] : [`${root}`];
    for (const id of ids) lines.push(JSON.stringify({ row_id: id, text: `answer for ${id} `.repeat(1 + (root % 4)) }));
  }
  const text = lines.map((line) => `${line}\n`).join("");
  writeFileSync(join(work, "out", "000.jsonl"), text);
  return { shard: { dir: "out", seq: 0, lines: lines.length, bytes: Buffer.byteLength(text), crc: 0, sealed: false }, lines };
}

const seek = { minBytes: 2048, marginBytes: 1024, windowBytes: 16_384 };
const ofRoot = (root: number) => (line: string): boolean => new RegExp(`^\\{"row_id":"${root}(\\.|")`).test(line);

describe("ShardPages.findRoot", () => {
  it("finds every line of a row, and only those, in a nearly ordered shard", async () => {
    const random = new SeededRandom(5);
    const order = Array.from({ length: 3000 }, (_, i) => i);
    // Rows finish out of order within a window of 40, as a concurrent run's do.
    for (let i = 0; i < order.length; i++) {
      const j = Math.min(order.length - 1, i + Math.floor(random.next() * 40));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const { shard, lines } = writeShard(order);
    const pages = new ShardPages(work, "out", [shard], false, seek);
    for (let root = 0; root < 3000; root += 29) {
      const found = await pages.findRoot(0, root, ofRoot(root));
      expect(found.map((line) => line.text)).toEqual(lines.filter(ofRoot(root)));
      for (const line of found) expect(await pages.lineAt(line.cursor)).toBe(line.text);
    }
  });

  it("falls back to scanning the whole shard for a row that finished far out of order", async () => {
    const order = [...Array.from({ length: 2000 }, (_, i) => i + 1), 0];
    const { shard, lines } = writeShard(order);
    const pages = new ShardPages(work, "out", [shard], false, seek);
    expect((await pages.findRoot(0, 0, ofRoot(0))).map((line) => line.text)).toEqual(lines.filter(ofRoot(0)));
    expect((await pages.findRoot(0, 1999, ofRoot(1999))).map((line) => line.text)).toEqual(lines.filter(ofRoot(1999)));
    expect(await pages.findRoot(0, 5000, ofRoot(5000))).toEqual([]);
  });

  it("pages every line once by cursor, forward and backward", async () => {
    const { shard, lines } = writeShard(Array.from({ length: 700 }, (_, i) => i));
    const pages = new ShardPages(work, "out", [shard], false);
    const forward: string[] = [];
    for (let page = await pages.forward(undefined, 33); page.lines.length > 0; page = await pages.forward(page.next, 33)) forward.push(...page.lines.map((line) => line.text));
    expect(forward).toEqual(lines);
    const backward: string[] = [];
    for (let page = await pages.backward(undefined, 29); ; page = await pages.backward(page.previous ?? undefined, 29)) {
      backward.unshift(...page.lines.map((line) => line.text));
      if (page.previous === null) break;
    }
    expect(backward).toEqual(lines);
  });
});

/** A Parquet run's folder `pq/`: the layout of an output folder with typed, JSON, nested and optional columns. */
const columns: ParquetColumn[] = [
  stringColumn("row_id"),
  stringColumn("text"),
  jsonColumn("meta"),
  { name: "count", kind: "int64", nullable: true },
  { name: "score", kind: "double", nullable: false },
  { name: "tags", kind: "list", nullable: true, items: stringColumn("element") },
  { name: "error", kind: "struct", nullable: true, fields: [stringColumn("type"), { name: "status", kind: "int64", nullable: true }] },
];

/** Root `root`'s records (every 7th fans out in two), keys in column order, a missing value left out as JSONL does. */
function recordsOf(root: number): Record<string, unknown>[] {
  const ids = root % 7 === 0 ? [`${root}.0`, `${root}.1`] : [`${root}`];
  return ids.map((id) => ({
    row_id: id,
    text: `answer ${id} <b>"quoted"</b>`,
    meta: root % 3 === 0 ? { nested: [root, null, "x"], flag: true } : `plain ${root}`,
    ...(root % 2 === 0 ? { count: root * 1000 } : {}),
    score: root / 8,
    ...(root % 5 === 0 ? {} : { tags: ["a", `t${root}`] }),
    ...(root % 4 === 0 ? { error: { type: "SCHEMA_MISMATCH", ...(root % 8 === 0 ? { status: 500 } : {}) } } : {}),
  }));
}

/** Writes `pq/`: sealed shards of roots [0, 40) and [40, 75), a staging shard of roots [75, 90); returns its records and lines. */
async function writeParquetFolder(): Promise<{ shards: ShardRecord[]; lines: string[] }> {
  const folder = join(work, "pq");
  mkdirSync(stagingFolder(work, "pq"), { recursive: true });
  const roots = (start: number, end: number): Record<string, unknown>[] => Array.from({ length: end - start }, (_, i) => recordsOf(start + i)).flat();
  const shards: ShardRecord[] = [];
  const lines: string[] = [];
  for (const [seq, records] of [roots(0, 40), roots(40, 75)].entries()) {
    const path = join(folder, `00${seq}.parquet`);
    // Row groups of 16 rows: a page's rows span groups.
    await writeParquetShard(path, records, columns, { rowGroupSize: 16 });
    shards.push({ dir: "pq", seq, lines: records.length, bytes: statSync(path).size, crc: 0, sealed: true });
    lines.push(...records.map((record) => JSON.stringify(record)));
  }
  const staged = roots(75, 90).map((record) => JSON.stringify(record));
  const text = staged.map((line) => `${line}\n`).join("");
  // The line being written when the ledger was read is not committed: it is never shown.
  writeFileSync(join(stagingFolder(work, "pq"), "002.jsonl"), `${text}{"row_id":"90","te`);
  shards.push({ dir: "pq", seq: 2, lines: staged.length, bytes: Buffer.byteLength(text), crc: 0, sealed: false });
  lines.push(...staged);
  return { shards, lines };
}

async function pageForward(pages: ShardPages, limit: number, from?: string): Promise<{ texts: string[]; cursors: string[]; last: LinePage }> {
  const texts: string[] = [];
  const cursors: string[] = [];
  let page = await pages.forward(from, limit);
  for (;;) {
    texts.push(...page.lines.map((line) => line.text));
    cursors.push(...page.lines.map((line) => line.cursor));
    const next = await pages.forward(page.next, limit);
    if (next.lines.length === 0) return { texts, cursors, last: page };
    page = next;
  }
}

async function pageBackward(pages: ShardPages, limit: number, before?: string): Promise<string[]> {
  const texts: string[] = [];
  for (let page = await pages.backward(before, limit); ; page = await pages.backward(page.previous ?? undefined, limit)) {
    texts.unshift(...page.lines.map((line) => line.text));
    if (page.previous === null) return texts;
  }
}

describe("ShardPages in a Parquet run", () => {
  it("pages sealed and staging shards by cursor, forward and backward, each row as its JSONL record", async () => {
    const { shards, lines } = await writeParquetFolder();
    const pages = new ShardPages(work, "pq", shards, true);
    const forward = await pageForward(pages, 13);
    expect(forward.texts).toEqual(lines);
    expect(forward.cursors.slice(0, 2)).toEqual(["0:r0", "0:r1"]);
    expect(forward.cursors).toContain(`1:r${(shards[1] as ShardRecord).lines - 1}`);
    expect(forward.cursors.at(-1)).toMatch(/^2:r\d+:\d+$/);
    expect(await pageBackward(pages, 11)).toEqual(lines);
    const tail = await pages.backward(undefined, 5);
    expect(tail.lines.map((line) => line.text)).toEqual(lines.slice(-5));
    for (const cursor of [forward.cursors[0], forward.cursors[47], forward.cursors.at(-3)] as string[]) expect(await pages.lineAt(cursor)).toBe(lines[forward.cursors.indexOf(cursor)]);
    expect(await pages.lineAt("0:r100000")).toBeUndefined();
    expect(await pages.lineAt("2:r1:5")).toBeUndefined();
  });

  it("finds a row's records in a sealed shard and in a staging shard", async () => {
    const { shards, lines } = await writeParquetFolder();
    const pages = new ShardPages(work, "pq", shards, true);
    for (const [seq, root] of [[0, 14], [1, 41], [1, 74], [2, 77], [2, 84]] as const) {
      const found = await pages.findRoot(seq, root, ofRoot(root));
      expect(found.map((line) => line.text)).toEqual(lines.filter(ofRoot(root)));
      for (const line of found) expect(await pages.lineAt(line.cursor)).toBe(line.text);
    }
    expect(await pages.findRoot(0, 60, ofRoot(60))).toEqual([]);
  });

  it("keeps a staging cursor good once its shard is sealed, before the ledger says so and after", async () => {
    const { shards, lines } = await writeParquetFolder();
    const live = new ShardPages(work, "pq", shards, true);
    const first = (shards[0] as ShardRecord).lines + (shards[1] as ShardRecord).lines;
    const page = await live.forward((await live.forward(undefined, first)).next, 5);
    const cursor = page.next;
    expect(cursor).toMatch(/^2:r5:\d+$/);
    // The run seals shard 2: the Parquet file, then the ledger's commit, then the staging file goes.
    const staged = lines.slice(first);
    await writeParquetShard(join(work, "pq", "002.parquet"), staged.map((line) => JSON.parse(line) as Record<string, unknown>), columns);
    unlinkSync(join(stagingFolder(work, "pq"), "002.jsonl"));
    const sealedShard = { ...(shards[2] as ShardRecord), sealed: true, bytes: statSync(join(work, "pq", "002.parquet")).size };
    for (const pages of [new ShardPages(work, "pq", shards, true), new ShardPages(work, "pq", [...shards.slice(0, 2), sealedShard], true)]) {
      const after = await pages.forward(cursor, 100);
      expect(after.lines.map((line) => line.text)).toEqual(staged.slice(5));
      const before = await pages.backward(cursor, 3);
      expect(before.lines.map((line) => line.text)).toEqual(staged.slice(2, 5));
      expect(await pages.lineAt(page.lines[0]?.cursor as string)).toBe(staged[0]);
    }
  });

  it("reads a file written without the column layout (an earlier version): JSON text stays text", async () => {
    const path = join(work, "legacy.parquet");
    const records = recordsOf(12);
    await parquetWrite({
      writer: fileWriter(path),
      columnData: columns.map((column) => ({ name: column.name, data: records.map((record) => parquetValue(column, record[column.name])) })),
      schema: parquetSchemaElements(columns),
    });
    expect(await sealedRows(path, 0, 5)).toEqual(records.map((record) => ({ ...record, meta: JSON.stringify(record.meta) })));
  });
});
