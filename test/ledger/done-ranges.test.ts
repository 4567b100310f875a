import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { DoneRanges } from "../../src/ledger/done-ranges.js";
import { emptyNodeStats, Ledger } from "../../src/ledger/ledger.js";

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
