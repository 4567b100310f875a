/**
 * What a person sees while a run goes: on a TTY, a bar per node redrawn in place; otherwise one
 * progress line every few seconds; with `--json-logs`, pino events instead; with `--quiet`, nothing
 * until the summary. Everything is read from `RunStats`, on stderr (stdout stays for data).
 */
import type { Logger } from "pino";
import type { RunEvent } from "../pipeline/events.js";
import { bar, formatCount, formatDuration, formatRate } from "./format.js";
import type { RunStats } from "./run-stats.js";

export type ViewMode = "tty" | "lines" | "json" | "quiet";

export interface ProgressViewOptions {
  mode: ViewMode;
  stats: RunStats;
  chainName: string;
  stream?: NodeJS.WriteStream;
  logger?: Logger;
  /** @default 200 (tty), 5000 (lines and json) */
  intervalMs?: number;
}

export class ProgressView {
  private timer: NodeJS.Timeout | undefined;
  private drawnLines = 0;
  private stopped = false;
  private readonly stream: NodeJS.WriteStream;

  constructor(private readonly options: ProgressViewOptions) {
    this.stream = options.stream ?? process.stderr;
  }

  start(): void {
    const { mode } = this.options;
    if (mode === "quiet") return;
    const interval = this.options.intervalMs ?? (mode === "tty" ? 200 : 5000);
    this.timer = setInterval(() => this.draw(), interval);
    this.timer.unref();
  }

  /** Events worth a line of their own (engine down, stop asked), whatever the mode. */
  readonly onEvent = (event: RunEvent): void => {
    const { mode, logger } = this.options;
    if (mode === "json") {
      if (event.type === "node-end" || event.type === "node-batch" || event.type === "node-start" || event.type === "rows-read") return;
      const level = event.type === "engine-down" || event.type === "request-retry" ? "warn" : "info";
      logger?.[level]({ ...event, event: event.type }, event.type);
      return;
    }
    if (mode === "quiet") return;
    if (event.type === "engine-down") this.note(`engine ${event.engine} is down (${event.reason}); requests wait for it to come back`);
    if (event.type === "engine-up") this.note(`engine ${event.engine} is back`);
    if (event.type === "shards-repair") this.note(`--repair: dropped ${event.shards.join(", ")}; the ${event.rows} rows they held run again`);
    if (event.type === "stop-requested") this.note(`${event.reason}: no new rows; finishing the rows in flight (up to ${formatDuration(event.graceMs / 1000)}); Ctrl-C again to abandon them`);
  };

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (this.options.mode === "tty") this.draw();
    else if (this.options.mode === "lines") this.stream.write(`${this.line()}\n`);
  }

  private note(text: string): void {
    this.clear();
    this.stream.write(`${text}\n`);
    this.draw();
  }

  private draw(): void {
    const { mode, logger, stats } = this.options;
    if (mode === "json") {
      logger?.info({ event: "progress", committed: stats.committed, resumed: stats.resumed, total: stats.total, ok: stats.ok, failed: stats.failed, filtered: stats.filtered, rows_per_second: Math.round(stats.rate()), retries: stats.retries }, "progress");
      return;
    }
    if (mode === "lines") {
      this.stream.write(`${this.line()}\n`);
      return;
    }
    if (mode !== "tty") return;
    const lines = [this.line(), ...this.nodeLines()];
    this.clear();
    this.stream.write(`${lines.join("\n")}\n`);
    this.drawnLines = lines.length;
  }

  private clear(): void {
    if (this.options.mode !== "tty" || this.drawnLines === 0) return;
    this.stream.write(`\r\x1b[${this.drawnLines}F\x1b[0J`);
    this.drawnLines = 0;
  }

  private line(): string {
    const stats = this.options.stats;
    const done = stats.resumed + stats.committed;
    const total = stats.total === undefined ? "" : `/${formatCount(stats.total)} (${((done / Math.max(1, stats.total)) * 100).toFixed(1)}%)`;
    const eta = stats.etaSeconds();
    const parts = [
      `${this.options.chainName}: ${formatCount(done)}${total} rows`,
      `${formatRate(stats.rate())} rows/s`,
      `${formatRate(stats.tokensPerSecond())} tok/s`,
      `ok ${formatCount(stats.ok)} failed ${formatCount(stats.failed)} filtered ${formatCount(stats.filtered)}`,
      `retries ${formatCount(stats.retries)}`,
    ];
    if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
    if (stats.enginesDown.size > 0) parts.push(`DOWN: ${[...stats.enginesDown].join(", ")}`);
    return parts.join(" | ");
  }

  private nodeLines(): string[] {
    const stats = this.options.stats;
    const width = Math.max(...[...stats.nodes.keys()].map((id) => id.length), 4);
    return [...stats.nodes].map(([id, node]) => {
      const fraction = stats.total ? node.done / Math.max(1, stats.total - stats.resumed) : 0;
      const progress = stats.total === undefined ? "" : `${bar(fraction, 24)} `;
      return `  ${id.padEnd(width)} ${progress}${formatCount(node.done)} done  in-flight ${node.inFlight}  failed ${node.failed}  filtered ${node.filtered}  tokens ${formatCount(node.inputTokens)}→${formatCount(node.outputTokens)}`;
    });
  }
}
