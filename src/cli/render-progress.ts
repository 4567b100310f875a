/**
 * The live view's text, fitted to a terminal width: a status line and a line per node, each at most
 * `columns - 1` wide (a line that fills the last column wraps on some terminals, and a wrapped line
 * is what leaves stale copies down the screen when the view redraws). Parts give way in order of
 * importance: the least important first takes its shorter forms, then goes, before a more important
 * one shortens; what still does not fit is cut with `…`.
 */
import { bar, formatCount, formatCountShort, formatDuration, formatRate, paint, truncate, visibleWidth, type Style } from "./format.js";
import type { RunStats } from "./run-stats.js";

export interface RenderOptions {
  chainName: string;
  /** The terminal's width. */
  columns: number;
  /** ANSI colours. @default false */
  color?: boolean;
}

/** One part of a line: its forms from the fullest to the shortest; `""` as the last form lets it go. */
interface Part {
  forms: string[];
  style?: Style;
}

/**
 * Fits the joined parts into `limit` columns: while the line is too long, the next part named in
 * `giveWay` takes its next shorter form (a part may be named several times, between others); parts
 * keep their order on the line. What still does not fit is cut with `…`.
 */
function fit(parts: readonly Part[], giveWay: readonly number[], separator: string, limit: number, color: boolean): string {
  const chosen = parts.map(() => 0);
  const form = (index: number): string => parts[index]?.forms[chosen[index] ?? 0] ?? "";
  const plain = (): string => parts.map((_, index) => form(index)).filter((text) => text !== "").join(separator);
  for (const index of giveWay) {
    if (visibleWidth(plain()) <= limit) break;
    if ((chosen[index] ?? 0) < (parts[index]?.forms.length ?? 1) - 1) chosen[index] = (chosen[index] ?? 0) + 1;
  }
  const line = plain();
  if (visibleWidth(line) > limit) return truncate(line, limit);
  return parts
    .map((part, index) => (part.style === undefined ? form(index) : paint(form(index), part.style, color)))
    .filter((text) => text !== "")
    .join(separator);
}

/** The status line's parts, in their order on the line, and the order in which they give way. */
function statusParts(stats: RunStats, chainName: string): { parts: Part[]; giveWay: number[] } {
  const done = stats.resumed + stats.committed;
  const total = stats.total;
  const percent = total === undefined ? "" : `${((done / Math.max(1, total)) * 100).toFixed(1)}%`;
  const name = truncate(chainName, 24);
  const short = truncate(chainName, 12);
  const progress: Part = {
    style: "bold",
    forms:
      total === undefined
        ? [`${chainName}: ${formatCount(done)} rows`, `${name}: ${formatCount(done)} rows`, `${short}: ${formatCountShort(done)}`]
        : [
            `${chainName}: ${formatCount(done)}/${formatCount(total)} rows (${percent})`,
            `${name}: ${formatCount(done)}/${formatCount(total)} (${percent})`,
            `${short}: ${formatCountShort(done)}/${formatCountShort(total)} ${percent}`,
          ],
  };
  const down = [...stats.enginesDown];
  const stopping: Part = { style: "yellow", forms: stats.stopping === undefined ? [""] : [`stopping (${stats.stopping})`, "stopping"] };
  const engines: Part = {
    style: "red",
    forms: down.length === 0 ? [""] : [`DOWN: ${down.join(", ")}`, `DOWN: ${truncate(down[0] ?? "", 16)}${down.length > 1 ? ` +${down.length - 1}` : ""}`, "DOWN"],
  };
  const rate = formatRate(stats.rate());
  const speed: Part = { forms: [`${rate} rows/s`, `${rate}/s`, ""] };
  const elapsed = formatDuration(stats.elapsedSeconds());
  const eta = stats.etaSeconds();
  const time: Part = { forms: eta === undefined ? [`elapsed ${elapsed}`, `up ${elapsed}`] : [`elapsed ${elapsed}, ETA ${formatDuration(eta)}`, `up ${elapsed}, ETA ${formatDuration(eta)}`, `ETA ${formatDuration(eta)}`] };
  const outcomes: Part = {
    ...(stats.failed > 0 ? { style: "red" as const } : {}),
    forms: [
      `ok ${formatCount(stats.ok)} failed ${formatCount(stats.failed)} filtered ${formatCount(stats.filtered)}`,
      `ok ${formatCountShort(stats.ok)} fail ${formatCountShort(stats.failed)} filt ${formatCountShort(stats.filtered)}`,
      stats.failed > 0 ? `fail ${formatCountShort(stats.failed)}` : "",
      "",
    ],
  };
  const tokens: Part = { forms: [`${formatRate(stats.tokensPerSecond())} tok/s`, ""] };
  const retries: Part = { forms: [`retries ${formatCount(stats.retries)}`, ""] };
  const limits = [...stats.limits.values()].map((entry) => entry.limit);
  const limitTotal = limits.reduce((sum, limit) => sum + limit, 0);
  const concurrency: Part = {
    forms: limits.length === 0 ? [""] : [`concurrency ${limits.join("+")}`, `conc ${limitTotal}`, ""],
  };
  const parts = [progress, stopping, engines, speed, time, outcomes, tokens, concurrency, retries];
  const at = (part: Part): number => parts.indexOf(part);
  // Elapsed time goes last but one, and only when a stop and engines down crowd a narrow line.
  const giveWay = [retries, concurrency, concurrency, tokens, outcomes, progress, speed, time, outcomes, outcomes, speed, progress, engines, stopping, engines, time].map(at);
  return { parts, giveWay };
}

/** The status line in full: what a log that is not a terminal gets every few seconds. */
export function renderStatusLine(stats: RunStats, chainName: string): string {
  return statusParts(stats, chainName)
    .parts.map((part) => part.forms[0] ?? "")
    .filter((text) => text !== "")
    .join(" | ");
}

/** The whole view for a terminal `columns` wide: the status line, then one line per node. */
export function renderProgress(stats: RunStats, options: RenderOptions): string[] {
  const color = options.color ?? false;
  const limit = Math.max(1, options.columns - 1);
  const status = statusParts(stats, options.chainName);
  const lines = [fit(status.parts, status.giveWay, " | ", limit, color)];
  const idWidth = Math.min(Math.max(4, ...[...stats.nodes.keys()].map((id) => [...id].length)), options.columns >= 100 ? 24 : 14);
  const barWidth = options.columns >= 120 ? 24 : options.columns >= 90 ? 16 : 10;
  for (const [id, node] of stats.nodes) {
    const fraction = stats.total === undefined ? 0 : node.done / Math.max(1, stats.total - stats.resumed);
    const name: Part = { forms: [`  ${truncate(id, idWidth).padEnd(idWidth)}`] };
    const progress: Part = { style: "cyan", forms: stats.total === undefined ? [""] : [bar(fraction, barWidth), bar(fraction, Math.min(barWidth, 6)), ""] };
    const done: Part = { forms: [`${formatCount(node.done)} done`, formatCountShort(node.done)] };
    const inFlight: Part = { forms: [`in-flight ${formatCount(node.inFlight)}`, ""] };
    const failed: Part = { ...(node.failed > 0 ? { style: "red" as const } : {}), forms: [`failed ${formatCount(node.failed)}`, `fail ${formatCountShort(node.failed)}`, ""] };
    const filtered: Part = { forms: [`filtered ${formatCount(node.filtered)}`, `filt ${formatCountShort(node.filtered)}`, ""] };
    const tokens: Part = { forms: [`tokens ${formatCount(node.inputTokens)}→${formatCount(node.outputTokens)}`, `tok ${formatCountShort(node.inputTokens)}→${formatCountShort(node.outputTokens)}`, ""] };
    const parts = [name, progress, done, inFlight, failed, filtered, tokens];
    const giveWay = [tokens, filtered, failed, tokens, inFlight, progress, filtered, done, progress, failed].map((part) => parts.indexOf(part));
    lines.push(fit(parts, giveWay, "  ", limit, color));
  }
  return lines;
}
