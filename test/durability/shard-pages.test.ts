/**
 * `ShardPages` on real shard files: a row's lines found by bisecting a long shard are exactly the
 * lines a whole scan finds, whether rows finished nearly in order or far out of it (then the whole
 * shard is scanned), and pages by cursor cover every line once, forward and backward.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ShardRecord } from "../../src/durability/ledger.js";
import { ShardPages } from "../../src/durability/shard-pages.js";
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
  it("finds every line of a row, and only those, in a nearly ordered shard", () => {
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
      const found = pages.findRoot(0, root, ofRoot(root));
      expect(found.map((line) => line.text)).toEqual(lines.filter(ofRoot(root)));
      for (const line of found) expect(pages.lineAt(line.cursor)).toBe(line.text);
    }
  });

  it("falls back to scanning the whole shard for a row that finished far out of order", () => {
    const order = [...Array.from({ length: 2000 }, (_, i) => i + 1), 0];
    const { shard, lines } = writeShard(order);
    const pages = new ShardPages(work, "out", [shard], false, seek);
    expect(pages.findRoot(0, 0, ofRoot(0)).map((line) => line.text)).toEqual(lines.filter(ofRoot(0)));
    expect(pages.findRoot(0, 1999, ofRoot(1999)).map((line) => line.text)).toEqual(lines.filter(ofRoot(1999)));
    expect(pages.findRoot(0, 5000, ofRoot(5000))).toEqual([]);
  });

  it("pages every line once by cursor, forward and backward", () => {
    const { shard, lines } = writeShard(Array.from({ length: 700 }, (_, i) => i));
    const pages = new ShardPages(work, "out", [shard], false);
    const forward: string[] = [];
    for (let page = pages.forward(undefined, 33); page.lines.length > 0; page = pages.forward(page.next, 33)) forward.push(...page.lines.map((line) => line.text));
    expect(forward).toEqual(lines);
    const backward: string[] = [];
    for (let page = pages.backward(undefined, 29); ; page = pages.backward(page.previous ?? undefined, 29)) {
      backward.unshift(...page.lines.map((line) => line.text));
      if (page.previous === null) break;
    }
    expect(backward).toEqual(lines);
  });
});
