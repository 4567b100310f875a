import type { Logger } from "pino";
import { redactUrls } from "../engines/redact-urls.js";
import { cacheSavingsText, type RunSummary } from "../job/summary.js";
import { resumableAsIs } from "./exit-codes.js";
import { formatCount, formatDuration } from "./format.js";
import { debugWanted, fatalReport, fatalText } from "./report-fatal.js";

/**
 * The few lines a person reads when the run ends (stdout), and the way to resume when it did not
 * finish and the same command can resume it (otherwise the error says what to run instead). With
 * `--json-logs`, the same goes to stderr as one `run-summary` event too, the error and the resume
 * command as fields.
 */
export function printSummary(summary: RunSummary, outDir: string, error: unknown, logger?: Logger): void {
  const out = process.stdout;
  const { rows, tokens } = summary;
  const resumeCommand = summary.status !== "complete" && resumableAsIs(error) ? redactUrls(summary.resume_command) : undefined;
  out.write(`${summary.chain}: ${summary.status} — ${formatCount(rows.in)} rows in, ${formatCount(rows.ok)} ok, ${formatCount(rows.failed)} failed, ${formatCount(rows.filtered)} filtered\n`);
  out.write(`  tokens ${formatCount(tokens.input)} in / ${formatCount(tokens.output)} out, ${formatDuration(summary.wall_ms / 1000)} wall over ${summary.sessions} session(s), ${summary.rows_per_second} rows/s this session\n`);
  const savings = cacheSavingsText(summary.cache, formatCount);
  if (savings !== undefined) out.write(`  ${savings}\n`);
  for (const [id, node] of Object.entries(summary.nodes)) {
    out.write(`  ${id}: ${formatCount(node.ok)} ok, ${formatCount(node.failed)} failed, latency p50 ${node.latency_ms.p50} ms p90 ${node.latency_ms.p90} ms p99 ${node.latency_ms.p99} ms\n`);
  }
  out.write(`  output: ${outDir}\n`);
  const report = error === undefined ? undefined : fatalReport(error);
  const stack = error instanceof Error && debugWanted() ? error.stack : undefined;
  if (logger !== undefined) {
    const level = summary.status === "failed" ? "error" : summary.status === "stopped" || rows.failed > 0 ? "warn" : "info";
    logger[level](
      {
        event: "run-summary",
        status: summary.status,
        rows,
        tokens,
        cache: summary.cache,
        output: outDir,
        ...(report === undefined ? {} : { code: report.code, error: report.message, ...(report.hint === undefined ? {} : { hint: report.hint }) }),
        ...(stack === undefined ? {} : { stack }),
        ...(resumeCommand === undefined ? {} : { resume_command: resumeCommand, resume_note: summary.resume_note ?? null }),
      },
      report === undefined ? `run ${summary.status}` : report.message,
    );
  } else if (report !== undefined) {
    process.stderr.write(`${fatalText(report)}\n${stack === undefined ? "" : `${stack}\n`}`);
  }
  if (resumeCommand !== undefined) {
    out.write(`  resume with: ${resumeCommand}\n`);
    if (summary.resume_note) out.write(`  (${summary.resume_note})\n`);
  }
}
