/**
 * `inspect OUTDIR` on a job run as shards: one line per shard (state, rows done of its part, who
 * holds it) and the totals, read from each shard's ledger without changing it, so it works while
 * the shards run. Shards not started yet show as such; a merged OUTDIR says so.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Ledger } from "../durability/ledger.js";
import { readOutDirHolder } from "../durability/outdir-lock.js";
import { listShardFolders } from "../job/merge-shards.js";
import { SHARD_META, type ShardMeta } from "../job/shard-input.js";
import { SHARDS_FOLDER, shardFolderName, type ShardSpec } from "../job/shard-spec.js";
import { EXIT } from "./exit-codes.js";
import { formatCount } from "./format.js";

interface ShardReport {
  shard: string;
  folder: string;
  state: string;
  rows: { done: number; total: number | null; ok: number; failed: number; filtered: number };
  holder: { pid: number; host: string } | null;
}

export function inspectShards(outDir: string, json: boolean): number {
  const found = listShardFolders(outDir);
  const counts = [...new Set(found.map((spec) => spec.count))];
  const shards: ShardReport[] = [];
  for (const count of counts) {
    for (let index = 0; index < count; index++) shards.push(shardReport(outDir, { index, count }));
  }
  const sum = (pick: (report: ShardReport) => number): number => shards.reduce((total, report) => total + pick(report), 0);
  const totals = shards.every((report) => report.rows.total !== null) ? sum((report) => report.rows.total ?? 0) : null;
  const complete = shards.length > 0 && shards.every((report) => report.state === "complete");
  const report = {
    out_dir: outDir,
    shards,
    complete,
    merged: existsSync(join(outDir, "summary.json")),
    rows: { done: sum((r) => r.rows.done), total: totals, ok: sum((r) => r.rows.ok), failed: sum((r) => r.rows.failed), filtered: sum((r) => r.rows.filtered) },
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return EXIT.ok;
  }
  const out = [`${outDir}: ${shards.length} shard(s), ${shards.filter((r) => r.state === "complete").length} complete${report.merged ? ", merged" : ""}`];
  for (const shard of shards) {
    const holder = shard.holder === null ? "" : `, running as pid ${shard.holder.pid} on ${shard.holder.host}`;
    const of = shard.rows.total === null ? "" : ` of ${formatCount(shard.rows.total)}`;
    out.push(`  ${shard.shard} ${shard.state}: ${formatCount(shard.rows.done)}${of} rows (ok ${formatCount(shard.rows.ok)}, failed ${formatCount(shard.rows.failed)}, filtered ${formatCount(shard.rows.filtered)})${holder}`);
  }
  const of = totals === null ? "" : ` of ${formatCount(totals)}`;
  out.push(`  total: ${formatCount(report.rows.done)}${of} rows done (ok ${formatCount(report.rows.ok)}, failed ${formatCount(report.rows.failed)}, filtered ${formatCount(report.rows.filtered)})`);
  if (complete && !report.merged) out.push(`  every shard is complete: chainette-stream merge ${outDir}`);
  process.stdout.write(`${out.join("\n")}\n`);
  return EXIT.ok;
}

function shardReport(outDir: string, spec: ShardSpec): ShardReport {
  const name = shardFolderName(spec);
  const folder = join(outDir, SHARDS_FOLDER, name);
  const report: ShardReport = { shard: `${spec.index}/${spec.count}`, folder, state: "not started", rows: { done: 0, total: null, ok: 0, failed: 0, filtered: 0 }, holder: null };
  const path = join(folder, "ledger.sqlite");
  if (!existsSync(path)) return report;
  const { holder, live } = readOutDirHolder(folder);
  if (live && holder !== undefined) report.holder = { pid: holder.pid, host: holder.host };
  const ledger = Ledger.open(path, { readonly: true });
  try {
    const counters = ledger.counters();
    const meta = ledger.getMeta<ShardMeta>(SHARD_META);
    const last = ledger.sessions().at(-1);
    // A session that never ended, with no live holder, was killed (see inspect-command.ts).
    report.state = last === undefined ? "not started" : last.status === "running" && !live ? "killed" : last.status;
    report.rows = {
      done: ledger.done().count(),
      total: meta === undefined ? null : meta.endRow - meta.firstRow,
      ok: counters.ok ?? 0,
      failed: counters.failed ?? 0,
      filtered: counters.filtered ?? 0,
    };
  } finally {
    ledger.close();
  }
  return report;
}
