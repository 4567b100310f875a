/** Number and duration formatting for the terminal: widths, truncation, colour. */
import { stripVTControlCharacters } from "node:util";

/** Made once: `toLocaleString` builds a new formatter on every call (milliseconds each). */
const counts = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function formatCount(value: number): string {
  return counts.format(Math.round(value));
}

export function formatRate(value: number): string {
  if (value >= 10_000) return `${(value / 1000).toFixed(1)}k`;
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, "0")}m`;
  if (minutes > 0) return `${minutes}m${String(rest).padStart(2, "0")}s`;
  return `${rest}s`;
}

export function bar(fraction: number, width: number): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return "█".repeat(filled) + "░".repeat(width - filled);
}

/** Columns a string takes on a terminal: escape sequences take none, every code point one. */
export function visibleWidth(text: string): number {
  let width = 0;
  for (const _ of stripVTControlCharacters(text)) width++;
  return width;
}

/** `text` cut to `width` columns, ending with `…` when cut (plain text only). */
export function truncate(text: string, width: number): string {
  const points = [...text];
  if (points.length <= width) return text;
  return width <= 0 ? "" : `${points.slice(0, width - 1).join("")}…`;
}

/** Counts past 10,000 as 12.3k, 4.5M: the short form for narrow terminals. */
export function formatCountShort(value: number): string {
  const rounded = Math.round(value);
  if (Math.abs(rounded) < 10_000) return formatCount(rounded);
  if (Math.abs(rounded) < 1_000_000) return `${(rounded / 1000).toFixed(rounded < 100_000 ? 1 : 0)}k`;
  if (Math.abs(rounded) < 1_000_000_000) return `${(rounded / 1_000_000).toFixed(rounded < 100_000_000 ? 1 : 0)}M`;
  return `${(rounded / 1_000_000_000).toFixed(1)}G`;
}

export type Style = "bold" | "dim" | "red" | "green" | "yellow" | "cyan";
const styles: Record<Style, [number, number]> = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] };

/** `text` in a terminal style, or as is when colour is off. */
export function paint(text: string, style: Style, color: boolean): string {
  if (!color || text === "") return text;
  const [on, off] = styles[style];
  return `\x1b[${on}m${text}\x1b[${off}m`;
}

/**
 * Whether to colour what goes to `stream`: never with `NO_COLOR` set (no-color.org), always with
 * `FORCE_COLOR` set to anything but `0`/`false`, else on a TTY whose `TERM` is not `dumb`.
 */
export function colorWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force !== "false";
  return stream.isTTY === true && env.TERM !== "dumb";
}
