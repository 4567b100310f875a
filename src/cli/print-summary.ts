import { inspect } from "node:util";
import { redactUrls } from "../engines/redact-urls.js";
import { isChainetteError } from "../errors.js";
import type { RunSummary } from "../job/summary.js";
import { resumableAsIs } from "./exit-codes.js";
import { formatCount, formatDuration } from "./format.js";

/**
 * The few lines a person reads when the run ends (stdout), and the way to resume when it did not
 * finish and the same command can resume it (otherwise the error says what to run instead).
 */
export function printSummary(summary: RunSummary, outDir: string, error: unknown): void {
  const out = process.stdout;
  const { rows, tokens } = summary;
  out.write(`${summary.chain}: ${summary.status} — ${formatCount(rows.in)} rows in, ${formatCount(rows.ok)} ok, ${formatCount(rows.failed)} failed, ${formatCount(rows.filtered)} filtered\n`);
  out.write(`  tokens ${formatCount(tokens.input)} in / ${formatCount(tokens.output)} out, ${formatDuration(summary.wall_ms / 1000)} wall over ${summary.sessions} session(s), ${summary.rows_per_second} rows/s this session\n`);
  for (const [id, node] of Object.entries(summary.nodes)) {
    out.write(`  ${id}: ${formatCount(node.ok)} ok, ${formatCount(node.failed)} failed, latency p50 ${node.latency_ms.p50} ms p90 ${node.latency_ms.p90} ms p99 ${node.latency_ms.p99} ms\n`);
  }
  out.write(`  output: ${outDir}\n`);
  if (error !== undefined) {
    const message = isChainetteError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? (error.stack ?? error.message) : inspect(error);
    process.stderr.write(`error: ${message}\n`);
  }
  if (summary.status !== "complete" && resumableAsIs(error)) {
    out.write(`  resume with: ${redactUrls(summary.resume_command)}\n`);
    if (summary.resume_note) out.write(`  (${summary.resume_note})\n`);
  }
}
