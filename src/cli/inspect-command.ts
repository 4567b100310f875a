/**
 * `chainette-stream inspect OUTDIR`: what a run did, read from its ledger (read-only, so it works
 * while the run is going): counts by state, errors grouped by type with samples, tokens,
 * throughput, whether it is complete, and the command that resumes it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { redactUrls } from "../engines/redact-urls.js";
import { ChainetteError } from "../errors.js";
import { Ledger } from "../durability/ledger.js";
import { REDACTED_NOTE, type RunSummary } from "../job/summary.js";
import { EXIT } from "./exit-codes.js";
import { formatCount, formatDuration } from "./format.js";

const INSPECT_HELP = `Usage: chainette-stream inspect OUTDIR [--json]

What a run in OUTDIR did, read from its ledger without changing it (so it works while the run goes):
rows by state, errors by type with a sample, tokens, sessions, and the command that resumes it.

  --json       the same as one JSON object on stdout
  -h, --help   show this help
`;

export const INSPECT_OPTIONS = { json: { type: "boolean" }, help: { type: "boolean", short: "h" } } as const;

export function inspectCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: INSPECT_OPTIONS });
  if (values.help) {
    process.stdout.write(INSPECT_HELP);
    return EXIT.ok;
  }
  const outDir = positionals[0];
  if (outDir === undefined) throw new ChainetteError("USAGE", "inspect needs OUTDIR (`chainette-stream inspect --help` says more)");
  const path = join(outDir, "ledger.sqlite");
  if (!existsSync(path)) throw new ChainetteError("USAGE", `${outDir} holds no run (no ledger.sqlite)`);
  const ledger = Ledger.open(path, { readonly: true });
  try {
    const counters = ledger.counters();
    const sessions = ledger.sessions();
    const last = sessions.at(-1);
    const summaryPath = join(outDir, "summary.json");
    const summary = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, "utf8")) as RunSummary) : undefined;
    const running = last?.status === "running";
    const complete = !running && last?.status === "complete";
    const nodes = [...ledger.nodeStats()].filter(([node]) => node !== "" && node !== "input");
    const report = {
      out_dir: outDir,
      state: running ? "running (or killed)" : (last?.status ?? "not started"),
      complete,
      rows: { done: ledger.done().count(), ok: counters.ok ?? 0, failed: counters.failed ?? 0, filtered: counters.filtered ?? 0 },
      tokens: { input: counters.input_tokens ?? 0, output: counters.output_tokens ?? 0 },
      sessions: sessions.map((s) => ({ started_at: s.started_at, status: s.status, rows: s.rows, wall_ms: s.wall_ms })),
      nodes: Object.fromEntries(nodes.map(([node, stats]) => [node, { ok: stats.ok, failed: stats.failed, filtered: stats.filtered, p50_ms: stats.latency.quantile(0.5), p99_ms: stats.latency.quantile(0.99) }])),
      errors: ledger.failureGroups(),
      // Redacted again: a summary.json written before invocations were redacted may hold a credential.
      resume_command: summary === undefined ? null : redactUrls(summary.resume_command),
      resume_note: summary?.resume_note ?? (summary !== undefined && redactUrls(summary.resume_command) !== summary.resume_command ? REDACTED_NOTE : null),
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return EXIT.ok;
    }
    const wallMs = sessions.reduce((sum, s) => sum + s.wall_ms, 0);
    const rowsSum = sessions.reduce((sum, s) => sum + s.rows, 0);
    const out: string[] = [
      `${outDir}: ${complete ? "complete" : report.state}`,
      `  rows done ${formatCount(report.rows.done)}: ok ${formatCount(report.rows.ok)}, failed ${formatCount(report.rows.failed)}, filtered ${formatCount(report.rows.filtered)}`,
      `  tokens ${formatCount(report.tokens.input)} in / ${formatCount(report.tokens.output)} out`,
      `  ${sessions.length} session(s), ${formatDuration(wallMs / 1000)} wall, ${wallMs > 0 ? ((rowsSum / wallMs) * 1000).toFixed(1) : "0"} rows/s`,
    ];
    for (const [node, stats] of Object.entries(report.nodes)) out.push(`  ${node}: ${formatCount(stats.ok)} ok, ${formatCount(stats.failed)} failed, ${formatCount(stats.filtered)} filtered, p50 ${stats.p50_ms} ms, p99 ${stats.p99_ms} ms`);
    if (report.errors.length > 0) {
      out.push("  errors:");
      for (const group of report.errors) out.push(`    ${group.node} ${group.type}: ${formatCount(group.count)} (e.g. row ${group.sampleRowId}: ${group.sample.slice(0, 160)})`);
    }
    if (!complete && report.resume_command) {
      out.push(`  resume with: ${report.resume_command}`);
      if (report.resume_note) out.push(`  (${report.resume_note})`);
    }
    process.stdout.write(`${out.join("\n")}\n`);
    return EXIT.ok;
  } finally {
    ledger.close();
  }
}
