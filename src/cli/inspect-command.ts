/**
 * `chainette-stream inspect OUTDIR`: what a run did, read from its ledger (read-only, so it works
 * while the run is going): why it stopped (the last session's reason, or killed when a session
 * never ended and no process holds the OUTDIR), each session's start, end and status, how much of
 * the input is done, who holds the OUTDIR, counts by state, errors grouped by type with a sample
 * from the row it names, tokens, throughput, and the command that resumes it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { redactUrls } from "../engines/redact-urls.js";
import { ChainetteError } from "../errors.js";
import { Ledger, type SessionRecord } from "../durability/ledger.js";
import { readOutDirHolder } from "../durability/outdir-lock.js";
import { cacheSavings, cacheSavingsText, REDACTED_NOTE, type RunSummary } from "../job/summary.js";
import { listShardFolders } from "../job/merge-shards.js";
import { EXIT } from "./exit-codes.js";
import { inspectShards } from "./inspect-shards.js";
import { formatCount, formatDuration } from "./format.js";

const INSPECT_HELP = `Usage: chainette-stream inspect OUTDIR [--json]

What a run in OUTDIR did, read from its ledger without changing it (so it works while the run goes):
rows by state, errors by type with a sample, tokens, sessions, and the command that resumes it.
For a job run with --shard (OUTDIR/shards/), one line per shard and the totals.

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
  if (!existsSync(path) && listShardFolders(outDir).length > 0) return inspectShards(outDir, values.json ?? false);
  if (!existsSync(path)) throw new ChainetteError("USAGE", `${outDir} holds no run (no ledger.sqlite)`);
  const ledger = Ledger.open(path, { readonly: true });
  try {
    const counters = ledger.counters();
    const { holder, live } = readOutDirHolder(outDir);
    const sessions = ledger.sessions().map((session, index, all) => describeSession(session, live && index === all.length - 1));
    const last = sessions.at(-1);
    const summaryPath = join(outDir, "summary.json");
    const summary = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, "utf8")) as Partial<RunSummary> & Pick<RunSummary, "resume_command">) : undefined;
    const running = last?.status === "running";
    const complete = last?.status === "complete";
    const done = ledger.done().count();
    // The input's size, when a session learnt it (summary.json of an older version has none).
    const total = typeof summary?.input_rows === "number" ? Math.max(summary.input_rows, done) : null;
    const nodes = [...ledger.nodeStats()].filter(([node]) => node !== "" && node !== "input");
    const report = {
      out_dir: outDir,
      state: last?.status ?? "not started",
      complete,
      /** Why the last session stopped (null when it completed or is running). */
      reason: last?.reason ?? null,
      rows: { done, ok: counters.ok ?? 0, failed: counters.failed ?? 0, filtered: counters.filtered ?? 0 },
      progress: { done, total, fraction: total === null || total === 0 ? null : Math.min(1, done / total) },
      holder:
        holder === undefined && !live
          ? null
          : { live, pid: holder?.pid ?? null, host: holder?.host ?? null, started_at: holder?.started_at ?? null, command: holder === undefined ? null : redactUrls(holder.command) },
      tokens: { input: counters.input_tokens ?? 0, output: counters.output_tokens ?? 0 },
      cache: cacheSavings(counters),
      sessions,
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
    const out: string[] = [`${outDir}: ${report.state}`];
    if (report.reason !== null) out.push(`  why: ${indent(report.reason)}`);
    out.push(
      total === null
        ? `  rows done ${formatCount(done)} (input size not known)`
        : `  rows done ${formatCount(done)} of ${formatCount(total)} (${((report.progress.fraction ?? 0) * 100).toFixed(1)}%)`,
      `    ok ${formatCount(report.rows.ok)}, failed ${formatCount(report.rows.failed)}, filtered ${formatCount(report.rows.filtered)}`,
    );
    if (report.holder !== null) {
      const who = report.holder.pid === null ? "a process" : `pid ${report.holder.pid} on ${report.holder.host ?? "?"}, since ${report.holder.started_at ?? "?"}`;
      out.push(report.holder.live ? `  held by ${who} (running now)` : `  last held by ${who} (no longer running)`);
    }
    out.push(
      `  tokens ${formatCount(report.tokens.input)} in / ${formatCount(report.tokens.output)} out`,
      ...[cacheSavingsText(report.cache, formatCount)].flatMap((line) => (line === undefined ? [] : [`  ${line}`])),
      `  ${sessions.length} session(s), ${formatDuration(wallMs / 1000)} wall, ${wallMs > 0 ? ((rowsSum / wallMs) * 1000).toFixed(1) : "0"} rows/s`,
    );
    for (const session of sessions) {
      const why = session.reason === null ? "" : `: ${session.reason.split("\n")[0] ?? ""}`;
      out.push(`    #${session.id} ${session.started_at} -> ${session.ended_at ?? "(no end)"} ${session.status}, ${formatCount(session.rows)} rows${why}`);
    }
    for (const [node, stats] of Object.entries(report.nodes)) out.push(`  ${node}: ${formatCount(stats.ok)} ok, ${formatCount(stats.failed)} failed, ${formatCount(stats.filtered)} filtered, p50 ${stats.p50_ms} ms, p99 ${stats.p99_ms} ms`);
    if (report.errors.length > 0) {
      out.push("  errors:");
      for (const group of report.errors) out.push(`    ${group.node} ${group.type}: ${formatCount(group.count)} (e.g. row ${group.sampleRowId}: ${group.sample.replace(/\s+/g, " ").slice(0, 160)})`);
    }
    if (!complete && !running && report.resume_command) {
      out.push(`  resume with: ${report.resume_command}`);
      if (report.resume_note) out.push(`  (${report.resume_note})`);
    }
    process.stdout.write(`${out.join("\n")}\n`);
    return EXIT.ok;
  } finally {
    ledger.close();
  }
}

/** A session as inspect shows it: one that never ended and whose process is gone was killed or crashed. */
function describeSession(session: SessionRecord, live: boolean): SessionRecord {
  if (session.ended_at !== null || session.status !== "running" || live) return session;
  return { ...session, status: "killed", reason: "killed or crashed: the session never ended and no process holds the OUTDIR (SIGKILL, out of memory, power loss); run the same command to resume" };
}

function indent(text: string): string {
  return text.replace(/\n/g, "\n  ");
}
