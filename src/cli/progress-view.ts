/**
 * What a person sees while a run goes: on a TTY, a bar per node redrawn in place, fitted to the
 * terminal's width and redrawn when it is resized, in colour unless `NO_COLOR` is set; otherwise
 * one plain progress line every few seconds; with `--json-logs`, pino events instead; with
 * `--quiet`, nothing until the summary. Everything is read from `RunStats`, on stderr (stdout stays
 * for data).
 */
import type { Logger } from "pino";
import type { RunEvent } from "../pipeline/events.js";
import { colorWanted, formatDuration, visibleWidth } from "./format.js";
import { renderProgress, renderStatusLine } from "./render-progress.js";
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
  /** ANSI colours. @default `NO_COLOR` unset and the stream a TTY, or `FORCE_COLOR` set */
  color?: boolean;
}

export class ProgressView {
  private timer: NodeJS.Timeout | undefined;
  /** The frame on screen (plain widths of its lines), to erase before the next. */
  private drawn: number[] = [];
  private stopped = false;
  private readonly stream: NodeJS.WriteStream;
  private readonly color: boolean;

  constructor(private readonly options: ProgressViewOptions) {
    this.stream = options.stream ?? process.stderr;
    this.color = options.color ?? colorWanted(this.stream);
  }

  start(): void {
    const { mode } = this.options;
    if (mode === "quiet") return;
    const interval = this.options.intervalMs ?? (mode === "tty" ? 200 : 5000);
    this.timer = setInterval(() => this.draw(), interval);
    this.timer.unref();
    if (mode === "tty") this.stream.on("resize", this.onResize);
  }

  /** SIGWINCH: a narrower terminal has rewrapped the frame on screen; erase it all and fit the new width. */
  private readonly onResize = (): void => {
    if (!this.stopped) this.draw();
  };

  /** Events worth a line of their own (engine down, stop asked), whatever the mode. */
  readonly onEvent = (event: RunEvent): void => {
    const { mode, logger } = this.options;
    if (mode === "json") {
      if (event.type === "node-end" || event.type === "node-batch" || event.type === "node-start" || event.type === "rows-read") return;
      if (event.type === "stop-forced") {
        logger?.warn({ event: event.type, by: event.by }, stopForcedText(event.by, event.graceMs));
        return;
      }
      if (event.type === "row-failed") {
        logger?.warn({ event: event.type, row_id: event.rowId, node: event.node, type: event.errorType, code: event.errorType, message: event.message }, event.type);
        return;
      }
      logger?.[jsonLevel(event)]({ ...event, event: event.type }, event.type);
      return;
    }
    // Said even with --quiet: it answers what the person did.
    if (event.type === "stop-forced") this.note(stopForcedText(event.by, event.graceMs));
    if (event.type === "rerun") this.note(rerunText(event));
    if (event.type === "input-grown") this.note(`the input ${event.path} grew (${event.bytesBefore} bytes then, ${event.bytesNow} now): its new rows run, the earlier results stay`);
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
    this.stream.off("resize", this.onResize);
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
    const lines = renderProgress(stats, { chainName: this.options.chainName, columns: this.columns(), color: this.color });
    this.clear();
    this.stream.write(`${lines.join("\n")}\n`);
    this.drawn = lines.map((line) => visibleWidth(line));
  }

  private columns(): number {
    return this.stream.columns > 0 ? this.stream.columns : 80;
  }

  /**
   * Moves up over the frame on screen and erases to the end of the screen. A line drawn for a wider
   * terminal takes several rows once the terminal has rewrapped it, so rows are counted at today's width.
   */
  private clear(): void {
    if (this.options.mode !== "tty" || this.drawn.length === 0) return;
    const columns = this.columns();
    const rows = this.drawn.reduce((sum, width) => sum + Math.max(1, Math.ceil(width / columns)), 0);
    this.stream.write(`\r\x1b[${rows}F\x1b[0J`);
    this.drawn = [];
  }

  /** The status line of the lines mode, in full and plain: a log is read as text, at any width. */
  private line(): string {
    return renderStatusLine(this.options.stats, this.options.chainName);
  }
}

/** error: the run failed; warn: something a person should look at (an engine down, a stop); info otherwise. */
function jsonLevel(event: RunEvent): "error" | "warn" | "info" {
  if (event.type === "run-end") return event.status === "failed" ? "error" : event.status === "stopped" ? "warn" : "info";
  if (event.type === "engine-down" || event.type === "request-retry" || event.type === "stop-requested" || event.type === "stop-forced" || event.type === "shards-repair" || event.type === "rerun") return "warn";
  return "info";
}

/** One line for a stop that cancels the rows in flight: what happens to them, and how to go on. */
export function stopForcedText(by: "signal" | "grace", graceMs: number): string {
  const cause = by === "signal" ? "Ctrl-C again" : `the grace period (${formatDuration(graceMs / 1000)}) ran out`;
  return `${cause}: abandoning the rows in flight; they are not committed, and running the same command again redoes them`;
}

/** What a rerun after a chain change does, said before it starts. */
export function rerunText(event: Extract<RunEvent, { type: "rerun" }>): string {
  const lines = ["the chain changed since this OUTDIR's run:", ...event.changes.map((change) => `  - ${change}`)];
  lines.push("its results are replaced by a new run of every row (--fresh would also empty the response cache):");
  lines.push(`  recomputed: ${event.recomputed.length > 0 ? event.recomputed.join(", ") : "(no node: the same outputs, rewritten)"}`);
  if (event.fromCache.length > 0) lines.push(`  served from the response cache: ${event.fromCache.join(", ")}`);
  if (event.removed.length > 0) lines.push(`  removed (their folders go): ${event.removed.join(", ")}`);
  return lines.join("\n");
}
