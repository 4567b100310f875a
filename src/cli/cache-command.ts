/**
 * `chainette-stream cache DIR [--prune-older-than AGE] [--json]`: what a response cache holds (an
 * OUTDIR's, or a shared `--cache DIR`'s): entries, reply text, bytes on disk, the oldest and newest
 * entry; with `--prune-older-than`, deletes the replies stored longer ago than AGE and gives the
 * space back. Safe beside runs using the cache: a run that cannot store a batch of replies while
 * the file is rewritten skips it, and a reply pruned from under a run only costs its request again.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ChainetteError } from "../errors.js";
import { CACHE_FILE, ResponseCache, type CacheDescription } from "../durability/response-cache.js";
import { EXIT } from "./exit-codes.js";
import { formatCount, formatDuration } from "./format.js";

const CACHE_HELP = `Usage: chainette-stream cache DIR [--prune-older-than AGE] [--json]

Shows the response cache in DIR (an OUTDIR, or the folder given to run --cache): its entries, the
reply text they hold, its size on disk, and the age of its oldest and newest entry.

  --prune-older-than AGE  delete the replies stored more than AGE ago (30d, 12h, 90m, 2w), then
                          give the space back; a run that needs one again sends its request
  --json                  one JSON object (after pruning, when asked)
`;

export const CACHE_OPTIONS = { "prune-older-than": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } } as const;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d`, `12h`, `90m`, `45s`, `2w` in milliseconds. */
export function parseAge(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text.trim());
  const unit = UNIT_MS[match?.[2] ?? ""];
  if (match === null || unit === undefined) throw new ChainetteError("USAGE", `Expected --prune-older-than as a number and a unit (s, m, h, d, w), like \`30d\`, got \`${text}\``);
  return Number(match[1]) * unit;
}

export function cacheCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, options: CACHE_OPTIONS, allowPositionals: true });
  if (values.help) {
    process.stdout.write(CACHE_HELP);
    return EXIT.ok;
  }
  const [dir, ...extra] = positionals;
  if (dir === undefined || extra.length > 0) throw new ChainetteError("USAGE", "Expected one folder: `chainette-stream cache DIR` (an OUTDIR, or the folder given to run --cache)");
  const age = values["prune-older-than"] === undefined ? undefined : parseAge(values["prune-older-than"]);
  if (!existsSync(join(dir, CACHE_FILE))) throw new ChainetteError("USAGE", `${dir} holds no response cache (no ${CACHE_FILE}): give an OUTDIR, or the folder given to run --cache`);
  const cache = ResponseCache.open(dir);
  try {
    const now = Date.now();
    const pruned = age === undefined ? undefined : { before: cache.describe(), deleted: cache.pruneBefore(now - age) };
    const after = cache.describe();
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify({ ...asJson(after, now), ...(pruned === undefined ? {} : { pruned: pruned.deleted, bytes_freed: Math.max(0, pruned.before.bytes - after.bytes) }) }, null, 2)}\n`);
      return EXIT.ok;
    }
    if (pruned !== undefined) {
      process.stdout.write(`pruned ${formatCount(pruned.deleted)} replies stored more than ${values["prune-older-than"]} ago; ${formatBytes(Math.max(0, pruned.before.bytes - after.bytes))} freed\n`);
    }
    process.stdout.write(describeText(after, now));
    return EXIT.ok;
  } finally {
    cache.close();
  }
}

function asJson(description: CacheDescription, now: number) {
  const age = (at: number | null): number | null => (at === null ? null : Math.round((now - at) / 1000));
  return {
    path: description.path,
    entries: description.entries,
    text_bytes: description.textBytes,
    bytes: description.bytes,
    oldest_age_s: age(description.oldest),
    newest_age_s: age(description.newest),
  };
}

function describeText(description: CacheDescription, now: number): string {
  const lines = [`response cache ${description.path}`, `  ${formatCount(description.entries)} replies, ${formatBytes(description.textBytes)} of text, ${formatBytes(description.bytes)} on disk`];
  if (description.oldest !== null && description.newest !== null) {
    lines.push(`  oldest stored ${formatAge(now - description.oldest)} ago, newest ${formatAge(now - description.newest)} ago`);
  }
  return `${lines.join("\n")}\n`;
}

/** An age in days past two days (`12d03h`), as the progress line's durations below. */
function formatAge(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 2 * 86_400) return formatDuration(seconds);
  const days = Math.floor(seconds / 86_400);
  return `${days}d${String(Math.floor((seconds % 86_400) / 3600)).padStart(2, "0")}h`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit] ?? "TiB"}`;
}
