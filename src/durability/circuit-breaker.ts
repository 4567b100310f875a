/**
 * The circuit breaker: stops a run (resumably) whose rows keep failing, before it pays for every
 * request. It watches the last `window` finished leaf rows of this session in a ring buffer (one
 * byte per row, plus a reference to each failed row's failure), and opens once the window is full
 * and more than `rate` of it failed. The error it throws names the top error in the window (node,
 * type, message) with one row that had it and an excerpt of that row's input.
 */
import { ChainetteError } from "../errors.js";
import type { Row } from "../pipeline/row.js";

export interface CircuitBreakerOptions {
  /** How many of the last finished leaf rows are watched; the breaker waits until that many finished. @default 100 */
  window: number;
  /** The share of the window (0-1) that must be exceeded by failed rows to open. @default 0.9 */
  rate: number;
}

export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerOptions = { window: 100, rate: 0.9 };

/** A failed leaf row as the breaker keeps it: enough to name the error and show its row. */
interface FailedLeaf {
  rowId: string;
  node: string;
  type: string;
  message: string;
  input: Record<string, unknown>;
  raw: string | undefined;
}

const EXCERPT_CHARS = 200;

export class CircuitBreaker {
  private readonly failedAt: Uint8Array;
  private readonly failures: (FailedLeaf | undefined)[];
  private next = 0;
  private seen = 0;
  private failed = 0;

  constructor(private readonly options: CircuitBreakerOptions) {
    if (!Number.isInteger(options.window) || options.window < 1) throw new ChainetteError("USAGE", `Expected the circuit breaker's window to be an integer >= 1, got \`${options.window}\``);
    if (!(options.rate >= 0 && options.rate < 1)) throw new ChainetteError("USAGE", `Expected the circuit breaker's rate to be a number from 0 to below 1, got \`${options.rate}\``);
    this.failedAt = new Uint8Array(options.window);
    this.failures = new Array<FailedLeaf | undefined>(options.window);
  }

  /** Records one finished leaf row (ok, failed or filtered: a filtered row counts as not failed). */
  record(leaf: Row): void {
    const slot = this.next;
    this.failed -= this.failedAt[slot] as number;
    if (leaf.state === "failed") {
      const failure = leaf.failure;
      this.failedAt[slot] = 1;
      this.failures[slot] = { rowId: leaf.id, node: failure?.node ?? "", type: failure?.type ?? "UNKNOWN", message: failure?.message ?? "", input: leaf.root.input, raw: leaf.root.raw };
      this.failed++;
    } else {
      this.failedAt[slot] = 0;
      this.failures[slot] = undefined;
    }
    this.next = slot + 1 === this.options.window ? 0 : slot + 1;
    this.seen++;
  }

  /** Throws `CIRCUIT_OPEN` when the window is full and more than `rate` of it failed. */
  check(): void {
    const { window, rate } = this.options;
    if (this.seen < window || this.failed <= rate * window) return;
    throw new ChainetteError("CIRCUIT_OPEN", this.describe());
  }

  private describe(): string {
    const { window, rate } = this.options;
    // The most frequent (node, type) in the window; its sample is its most recent row.
    const groups = new Map<string, { count: number; sample: FailedLeaf }>();
    for (let i = 0; i < window; i++) {
      const failure = this.failures[(this.next + i) % window];
      if (failure === undefined) continue;
      const key = `${failure.node}\u0000${failure.type}`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, { count: 1, sample: failure });
      else {
        group.count++;
        group.sample = failure;
      }
    }
    let top: { count: number; sample: FailedLeaf } | undefined;
    for (const group of groups.values()) if (top === undefined || group.count > top.count) top = group;
    const percent = (share: number): string => `${Math.round(share * 1000) / 10}%`;
    const lines = [`${this.failed} of the last ${window} finished rows failed (${percent(this.failed / window)}, above the circuit breaker's ${percent(rate)}): the run stopped.`];
    if (top !== undefined) {
      const { sample } = top;
      lines.push(`  top error: node \`${sample.node}\` ${sample.type} in ${top.count} of those rows: ${excerpt(sample.message)}`);
      lines.push(`  e.g. row ${sample.rowId}, input: ${excerpt(sample.raw ?? safeJson(sample.input))}`);
    }
    lines.push("  Fix the cause and run the same command to resume: rows already done are kept (add --retry-errors to redo the failed ones). --circuit-breaker off turns the breaker off.");
    return lines.join("\n");
  }
}

function excerpt(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= EXCERPT_CHARS ? line : `${line.slice(0, EXCERPT_CHARS - 1)}…`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
