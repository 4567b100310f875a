/**
 * A model-based property test of the ledger's done rows: random interleavings of commits (ranges out
 * of order, overlapping, with and without byte offsets, some rows failed), `--retry-errors`
 * forgetting, reopening, and a reader's cursor walking up the rows, checked after every command
 * against a plain model: a Set of done rows, the failed roots, and each row's true byte offset,
 * which the ledger may forget (null) but must never misstate. Run twice: on `DoneRanges` alone
 * (changed in place, reopened from what a ledger stores; cheap, so many runs) and on a `Ledger`
 * over a real SQLite file (closed and opened again; fewer runs).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { DoneRanges, type Range } from "../../src/durability/done-ranges.js";
import { rootRanges } from "../../src/durability/forget-roots.js";
import { Ledger } from "../../src/durability/ledger.js";

const ROWS = 24;
/** The byte offset just past row `index` in the model input (lines of varied length). */
const endOf = (index: number): number => (index + 1) * 7 + (index % 3);

interface Model {
  done: Set<number>;
  failed: Set<number>;
  /** The open reader, if any: the rows whose state changed since it started, the last index it asked about. */
  reader: { changed: Set<number>; last: number } | undefined;
}

/** The done rows and failures, stored somewhere that can be closed and opened again. */
interface DoneStore {
  done(): DoneRanges;
  commit(rows: Range[], failed: readonly number[]): void;
  forget(roots: readonly number[]): void;
  failedRoots(): Set<number>;
  reopen(): void;
  close(): void;
}

class LedgerStore implements DoneStore {
  private ledger: Ledger;
  constructor(private readonly path: string) {
    this.ledger = Ledger.open(path);
  }
  done(): DoneRanges {
    return this.ledger.done();
  }
  commit(rows: Range[], failed: readonly number[]): void {
    const failures = failed.map((root) => ({ rowId: String(root), root, node: "qa", type: "ENGINE_REQUEST", message: "429", attempts: 1, status: 429 }));
    this.ledger.commit({ shards: [], rows, failures, counters: { rows_in: rows.length }, nodes: new Map() });
  }
  forget(roots: readonly number[]): void {
    this.ledger.forgetRoots({ roots: rootRanges(roots), folders: new Map(), counters: {}, nodes: new Map() });
  }
  failedRoots(): Set<number> {
    return new Set(this.ledger.failures().map((failure) => failure.root));
  }
  reopen(): void {
    this.ledger.close();
    this.ledger = Ledger.open(this.path);
  }
  close(): void {
    this.ledger.close();
  }
}

/** One `DoneRanges` changed in place; reopening rebuilds it from what a ledger stores. */
class MemoryStore implements DoneStore {
  private ranges = new DoneRanges();
  private readonly failed = new Set<number>();
  done(): DoneRanges {
    return this.ranges;
  }
  commit(rows: Range[], failed: readonly number[]): void {
    this.ranges.addRanges(rows);
    for (const root of failed) this.failed.add(root);
  }
  forget(roots: readonly number[]): void {
    this.ranges.remove(roots);
    for (const root of roots) this.failed.delete(root);
  }
  failedRoots(): Set<number> {
    return new Set(this.failed);
  }
  reopen(): void {
    this.ranges = new DoneRanges(this.ranges.watermark, this.ranges.watermarkOffset, this.ranges.above());
  }
  close(): void {}
}

interface Real {
  store: DoneStore;
  isDone: ((index: number) => boolean) | undefined;
}

type LedgerCommand = fc.Command<Model, Real>;

function watermarkOf(done: ReadonlySet<number>): number {
  let watermark = 0;
  while (done.has(watermark)) watermark++;
  return watermark;
}

/** Everything the ledger says about done rows and failures, against the model. */
function expectAgrees(model: Model, real: Real): void {
  const done = real.store.done();
  const watermark = watermarkOf(model.done);
  expect(done.watermark, "watermark").toBe(watermark);
  // Where a resume starts reading: an offset is optional, a wrong one renumbers the input.
  if (watermark === 0) expect(done.watermarkOffset, "offset of row 0").toBe(0);
  else if (done.watermarkOffset !== null) expect(done.watermarkOffset, `offset of the watermark row ${watermark}`).toBe(endOf(watermark - 1));
  const indices = Array.from({ length: ROWS + 8 }, (_, index) => index);
  expect(indices.filter((index) => done.has(index)), "the rows has() says are done").toEqual(indices.filter((index) => model.done.has(index)));
  expect(done.count(), "count").toBe(model.done.size);
  let previousEnd = watermark;
  for (const [start, end, endOffset] of done.above()) {
    if (start <= previousEnd || end <= start) expect.fail(`ranges not sorted, apart and above the watermark ${watermark}: ${JSON.stringify(done.above())}`);
    if (endOffset !== null && endOffset !== endOf(end - 1)) expect.fail(`range [${start}, ${end}) ends at byte ${endOffset}, not ${endOf(end - 1)}`);
    previousEnd = end;
  }
  expect(real.store.failedRoots(), "failed roots").toEqual(model.failed);
}

class Commit implements LedgerCommand {
  constructor(
    readonly ranges: readonly { start: number; length: number; withOffset: boolean }[],
    readonly failPicks: readonly number[],
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const rows: Range[] = this.ranges.map(({ start, length, withOffset }) => [start, start + length, withOffset ? endOf(start + length - 1) : null]);
    const committed = rows.flatMap(([start, end]) => Array.from({ length: end - start }, (_, i) => start + i));
    const failed = [...new Set(this.failPicks.map((pick) => committed[pick % committed.length] as number))];
    real.store.commit(rows, failed);
    for (const index of committed) {
      if (!model.done.has(index)) model.reader?.changed.add(index);
      model.done.add(index);
    }
    for (const root of failed) model.failed.add(root);
    expectAgrees(model, real);
  }
  toString(): string {
    return `commit(${this.ranges.map(({ start, length, withOffset }) => `[${start},${start + length}${withOffset ? "" : ",null"})`).join(" ")}; fail picks ${this.failPicks.join(",")})`;
  }
}

/** `--retry-errors`: some failed roots (and possibly other rows) are taken back. */
class ForgetFailures implements LedgerCommand {
  constructor(readonly picks: readonly number[], readonly extra: readonly number[]) {}
  check(model: Readonly<Model>): boolean {
    return model.failed.size > 0;
  }
  run(model: Model, real: Real): void {
    const failed = [...model.failed].sort((a, b) => a - b);
    const roots = [...new Set([...this.picks.map((pick) => failed[pick % failed.length] as number), ...this.extra])];
    real.store.forget(roots);
    for (const root of roots) {
      if (model.done.has(root)) model.reader?.changed.add(root);
      model.done.delete(root);
      model.failed.delete(root);
    }
    expectAgrees(model, real);
  }
  toString(): string {
    return `forgetFailures(picks ${this.picks.join(",")}; extra ${this.extra.join(",")})`;
  }
}

class Reopen implements LedgerCommand {
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    real.store.reopen();
    expectAgrees(model, real);
  }
  toString(): string {
    return "reopen";
  }
}

/** A reader starts (a session's `sourceRows`): it asks with `done().cursor()`. */
class StartReading implements LedgerCommand {
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    real.isDone = real.store.done().cursor();
    model.reader = { changed: new Set(), last: -1 };
  }
  toString(): string {
    return "startReading";
  }
}

/**
 * The reader asks about its next row. Under a real reader the only rows whose state changes are
 * ones it read already (its own commits): the answer is checked for every row whose state has not
 * changed since reading started (here commits and forgets touch any row, to stress the cursor).
 */
class ReadNext implements LedgerCommand {
  constructor(readonly step: number) {}
  check(model: Readonly<Model>): boolean {
    return model.reader !== undefined && model.reader.last + this.step < ROWS + 8;
  }
  run(model: Model, real: Real): void {
    const reader = model.reader as NonNullable<Model["reader"]>;
    const isDone = real.isDone as (index: number) => boolean;
    const index = reader.last + this.step;
    reader.last = index;
    const answer = isDone(index);
    if (!reader.changed.has(index)) expect(answer, `the reader's isDone(${index})`).toBe(model.done.has(index));
  }
  toString(): string {
    return `readNext(+${this.step})`;
  }
}

const commit = fc
  .tuple(
    fc.array(fc.record({ start: fc.nat(ROWS - 1), length: fc.integer({ min: 1, max: 4 }), withOffset: fc.boolean() }), { minLength: 1, maxLength: 3 }),
    fc.array(fc.nat(), { maxLength: 3 }),
  )
  .map(([ranges, failPicks]) => new Commit(ranges, failPicks));
const readNext = fc.integer({ min: 1, max: 3 }).map((step) => new ReadNext(step));
// Listed twice: commits and reads come more often than the rest. Reopening costs a SQLite open.
const commands = [
  commit,
  commit,
  fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.array(fc.nat(ROWS - 1), { maxLength: 2 })).map(([picks, extra]) => new ForgetFailures(picks, extra)),
  fc.constant(new Reopen()),
  fc.constant(new StartReading()),
  readNext,
  readNext,
];

function checkAgainstModel(openStore: () => DoneStore, numRuns: number): void {
  fc.assert(
    fc.property(fc.commands(commands, { maxCommands: 40, size: "max" }), (sequence) => {
      const real: Real = { store: openStore(), isDone: undefined };
      try {
        fc.modelRun(() => ({ model: { done: new Set<number>(), failed: new Set<number>(), reader: undefined }, real }), sequence);
      } finally {
        real.store.close();
      }
    }),
    { numRuns },
  );
}

describe("done rows against a model", () => {
  let folder: string | undefined;
  afterAll(() => {
    if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
  });

  it("DoneRanges agrees after every commit, forget, reopen and read, in any order", () => {
    checkAgainstModel(() => new MemoryStore(), 1000);
  });

  it("a Ledger over a SQLite file agrees after every commit, forget, reopen and read, in any order", () => {
    const root = mkdtempSync(join(tmpdir(), "ledger-model-"));
    folder = root;
    let files = 0;
    checkAgainstModel(() => new LedgerStore(join(root, `ledger-${files++}.sqlite`)), 80);
  });
});
