import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { DoneRanges } from "../../src/durability/done-ranges.js";
import { emptyNodeStats, Ledger } from "../../src/durability/ledger.js";

describe("DoneRanges", () => {
  it("agrees with a Set for any insertion order and keeps the watermark's offset", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 400 }), (indices) => {
        const done = new DoneRanges();
        for (let i = 0; i < indices.length; i += 7) done.add(indices.slice(i, i + 7).map((index) => ({ index, end: (index + 1) * 10 })));
        const set = new Set(indices);
        let watermark = 0;
        while (set.has(watermark)) watermark++;
        expect(done.watermark).toBe(watermark);
        expect(done.watermarkOffset).toBe(watermark * 10);
        for (let i = 0; i <= 301; i++) expect(done.has(i)).toBe(set.has(i));
        const cursor = done.cursor();
        for (let i = 0; i <= 301; i++) expect(cursor(i)).toBe(set.has(i));
        expect(done.count()).toBe(set.size);
      }),
    );
  });

  it("keeps a cursor's answers when commits advance the watermark under it", () => {
    const done = new DoneRanges(0, 0, [[5, 6, 60], [8, 9, 90]]);
    const isDone = done.cursor();
    expect([0, 1, 2, 3, 4, 5, 6].map(isDone)).toEqual([false, false, false, false, false, true, false]);
    // Rows 0-4 (read already) commit: the watermark jumps to 6 and the ranges array shifts.
    done.add([0, 1, 2, 3, 4].map((index) => ({ index, end: (index + 1) * 10 })));
    expect(done.watermark).toBe(6);
    expect(isDone(7)).toBe(false);
    expect(isDone(8)).toBe(true);
    expect(isDone(9)).toBe(false);
  });

  it("keeps a cursor's answers when commits merge the ranges under it", () => {
    const done = new DoneRanges(0, 0, [[2, 3, 30], [5, 6, 60], [8, 9, 90]]);
    const isDone = done.cursor();
    expect([0, 1, 2, 3, 4, 5, 6].map(isDone)).toEqual([false, false, true, false, false, true, false]);
    // Rows 3 and 4 commit: [2, 6) becomes one range, the array gets shorter, the watermark stays 0.
    done.add([3, 4].map((index) => ({ index, end: (index + 1) * 10 })));
    expect(done.watermark).toBe(0);
    expect(isDone(8)).toBe(true);
    expect(isDone(10)).toBe(false);
  });

  it("answers for the rows done when the cursor was made, whatever changes later", () => {
    const done = new DoneRanges(2, 20, [[4, 6, 60]]);
    const isDone = done.cursor();
    done.remove([0, 5]);
    done.add([{ index: 7, end: 80 }]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(isDone)).toEqual([true, true, false, false, true, true, false, false]);
    expect(() => isDone(3)).toThrow(/increasing/);
  });

  it("forgets the watermark's offset when a removal drops the watermark, and only then", () => {
    const done = new DoneRanges(10, 100, [[12, 14, 140]]);
    done.remove([13]);
    expect([done.watermark, done.watermarkOffset]).toEqual([10, 100]);
    done.remove([4]);
    expect([done.watermark, done.watermarkOffset]).toEqual([4, null]);
    done.remove([0]);
    expect([done.watermark, done.watermarkOffset]).toEqual([0, 0]);
  });

  it("resumes a shard after the done range that starts its rows, never below its first row", () => {
    // A shard of rows 500.. never reaches the watermark at 0: its progress is the first range.
    expect(new DoneRanges().resumePosition(500)).toEqual({ row: 500, offset: null });
    expect(new DoneRanges(0, 0, [[500, 640, 9000], [650, 660, 9800]]).resumePosition(500)).toEqual({ row: 640, offset: 9000 });
    // A gap right at the shard's first row: start there.
    expect(new DoneRanges(0, 0, [[510, 640, 9000]]).resumePosition(500)).toEqual({ row: 500, offset: null });
    // Shard 0, and any run without shards, resume at the watermark as before.
    expect(new DoneRanges(40, 900, [[50, 60, 1200]]).resumePosition(0)).toEqual({ row: 40, offset: 900 });
    expect(new DoneRanges(40, 900).resumePosition()).toEqual({ row: 40, offset: 900 });
  });
});

describe("Ledger", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("commits shards, done rows, failures and counters atomically and reloads them", () => {
    dir = mkdtempSync(join(tmpdir(), "ledger-"));
    const path = join(dir, "ledger.sqlite");
    const ledger = Ledger.open(path);
    ledger.setMeta("identity", { chain: "x" });
    const stats = emptyNodeStats();
    stats.ok = 2;
    stats.latency.record(120);
    ledger.commit({
      shards: [{ dir: "qa", seq: 0, lines: 2, bytes: 40, crc: 123, sealed: false }],
      rows: [[0, 2, 22], [3, 4, 44]],
      failures: [{ rowId: "3", root: 3, node: "qa", type: "SCHEMA_MISMATCH", message: "bad", attempts: 3, status: undefined }],
      counters: { rows_in: 3, ok: 2, failed: 1 },
      nodes: new Map([["qa", stats]]),
    });
    ledger.close();

    const again = Ledger.open(path);
    expect(again.getMeta("identity")).toEqual({ chain: "x" });
    expect(again.shards()).toEqual([{ dir: "qa", seq: 0, lines: 2, bytes: 40, crc: 123, sealed: false }]);
    expect(again.done().watermark).toBe(2);
    expect(again.done().watermarkOffset).toBe(22);
    expect(again.done().has(3)).toBe(true);
    expect(again.done().has(2)).toBe(false);
    expect(again.counters()).toMatchObject({ rows_in: 3, ok: 2, failed: 1 });
    expect(again.failureGroups()).toEqual([{ node: "qa", type: "SCHEMA_MISMATCH", count: 1, sample: "bad", sampleRowId: "3" }]);
    expect(again.nodeStats().get("qa")?.latency.quantile(0.5)).toBeGreaterThanOrEqual(120);
    // Row 2 arrives in a later session: the watermark jumps over the reloaded range, offset included.
    again.commit({ shards: [], rows: [[2, 3, 33]], failures: [], counters: {}, nodes: new Map() });
    expect(again.done().watermark).toBe(4);
    expect(again.done().watermarkOffset).toBe(44);
    again.close();
  });

  it("reloads an unknown watermark offset as unknown, not as byte 0", () => {
    dir = mkdtempSync(join(tmpdir(), "ledger-"));
    const path = join(dir, "ledger.sqlite");
    const ledger = Ledger.open(path);
    ledger.commit({ shards: [], rows: [[0, 10, 100]], failures: [], counters: {}, nodes: new Map() });
    // --retry-errors takes row 4 back: the watermark drops to 4, whose byte offset nobody recorded.
    ledger.forgetRoots({ roots: [[4, 5]], folders: new Map(), counters: {}, nodes: new Map() });
    expect([ledger.done().watermark, ledger.done().watermarkOffset]).toEqual([4, null]);
    ledger.close();

    const again = Ledger.open(path);
    expect([again.done().watermark, again.done().watermarkOffset]).toEqual([4, null]);
    expect(again.done().has(5)).toBe(true);
    again.close();
  });

  it("leaves the done rows as they were when the transaction fails", () => {
    dir = mkdtempSync(join(tmpdir(), "ledger-"));
    const path = join(dir, "ledger.sqlite");
    const writer = Ledger.open(path);
    writer.commit({ shards: [], rows: [[0, 3, 30], [5, 6, 60]], failures: [], counters: {}, nodes: new Map() });
    writer.close();
    // A read-only connection: every write fails inside the transaction, as a full disk would.
    const ledger = Ledger.open(path, { readonly: true });
    expect(() => ledger.commit({ shards: [], rows: [[3, 5, 50]], failures: [], counters: {}, nodes: new Map() }, { durable: true })).toThrow(/ledger commit failed/);
    expect([ledger.done().watermark, ledger.done().watermarkOffset, ledger.done().count()]).toEqual([3, 30, 4]);
    expect(() => ledger.forgetRoots({ roots: [[1, 2]], folders: new Map(), counters: {}, nodes: new Map() })).toThrow(/ledger update that forgets rows failed/);
    expect([ledger.done().watermark, ledger.done().watermarkOffset, ledger.done().has(1)]).toEqual([3, 30, true]);
    ledger.close();
  });

  it("commits durably and goes on committing", () => {
    dir = mkdtempSync(join(tmpdir(), "ledger-"));
    const path = join(dir, "ledger.sqlite");
    const ledger = Ledger.open(path);
    ledger.commit({ shards: [{ dir: "qa", seq: 0, lines: 1, bytes: 9, crc: 1, sealed: true }], rows: [[0, 1, 10]], failures: [], counters: {}, nodes: new Map() }, { durable: true });
    ledger.commit({ shards: [], rows: [[1, 2, 20]], failures: [], counters: {}, nodes: new Map() });
    ledger.close();
    const again = Ledger.open(path);
    expect(again.shards()).toEqual([{ dir: "qa", seq: 0, lines: 1, bytes: 9, crc: 1, sealed: true }]);
    expect([again.done().watermark, again.done().watermarkOffset]).toEqual([2, 20]);
    again.close();
  });
});

describe("DoneRanges.remove", () => {
  it("agrees with a Set after removals below and above the watermark", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 300 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 20 }), (added, removed) => {
        const done = new DoneRanges();
        done.add(added.map((index) => ({ index, end: index * 10 })));
        done.remove(removed);
        const set = new Set(added);
        for (const index of removed) set.delete(index);
        let watermark = 0;
        while (set.has(watermark)) watermark++;
        expect(done.watermark).toBe(watermark);
        for (let i = 0; i <= 201; i++) expect(done.has(i)).toBe(set.has(i));
        expect(done.count()).toBe(set.size);
      }),
    );
  });
});

describe("DoneRanges.removeRanges", () => {
  it("agrees with a Set after removing sorted disjoint ranges, and keeps offsets only of uncut ranges", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 300 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 20 }), (added, cuts) => {
        const done = new DoneRanges();
        done.add(added.map((index) => ({ index, end: index * 10 })));
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const removed: [number, number][] = [];
        for (let i = 0; i + 1 < points.length; i += 2) removed.push([points[i] ?? 0, points[i + 1] ?? 0]);
        done.removeRanges(removed);
        const set = new Set(added);
        for (const [start, end] of removed) for (let i = start; i < end; i++) set.delete(i);
        let watermark = 0;
        while (set.has(watermark)) watermark++;
        expect(done.watermark).toBe(watermark);
        for (let i = 0; i <= 201; i++) expect(done.has(i)).toBe(set.has(i));
        expect(done.count()).toBe(set.size);
        // An offset is the byte after row watermark - 1 (here index * 10), or unknown (null).
        if (done.watermarkOffset !== null && watermark > 0) expect(done.watermarkOffset).toBe((watermark - 1) * 10);
      }),
    );
  });
});
