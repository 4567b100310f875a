/**
 * `run --dry-run N` and `run --estimate N`: look before spending. Both print to stdout (one JSON
 * object with `--json-logs`) and exit 0 without touching OUTDIR; a run is the same command without
 * the flag. See docs/pipeline.md "Before a run".
 */
import type { Chain } from "../core/chain.js";
import type { EngineConfig } from "../engines/engine.js";
import type { OpenSourceOptions } from "../io/source.js";
import { dryRun, type DryRunReport } from "../job/dry-run.js";
import { estimateRun, type EstimateReport } from "../job/estimate-run.js";
import { formatDuration } from "./format.js";

export interface PreviewOptions {
  chain: Chain;
  input: string;
  engines: readonly EngineConfig[];
  source: OpenSourceOptions;
  concurrency: number;
  batchSize: number;
  json: boolean;
}

export async function printDryRun(rows: number, options: PreviewOptions): Promise<void> {
  const report = await dryRun({ chain: options.chain, input: options.input, engines: options.engines, rows, source: options.source });
  process.stdout.write(options.json ? `${JSON.stringify({ type: "dry-run", ...report })}\n` : dryRunText(report));
}

/** Ctrl-C ends the process as usual: the sample writes nothing, so there is nothing to stop cleanly. */
export async function printEstimate(rows: number, options: PreviewOptions): Promise<void> {
  const report = await estimateRun({ chain: options.chain, input: options.input, engines: options.engines, rows, source: options.source, concurrency: options.concurrency, batchSize: options.batchSize });
  process.stdout.write(options.json ? `${JSON.stringify({ type: "estimate", ...report })}\n` : estimateText(report, options.concurrency));
}

export function dryRunText(report: DryRunReport): string {
  let out = `Dry run of ${report.chain}: nothing is sent, nothing is written.\n`;
  for (const step of report.steps) {
    out += `\n== step ${step.id} (engine ${step.engine})\n`;
    if (step.after.length > 0) out += `   runs after ${step.after.join(", ")}: its prompts need their outputs and are not rendered\n`;
    out += `   request (without messages):\n${indent(JSON.stringify(step.request, null, 2), 4)}\n`;
  }
  if (report.rows.length === 0) out += "\nThe input has no rows.\n";
  for (const row of report.rows) {
    out += `\n== row ${row.rowId}\n`;
    for (const prompt of row.prompts) {
      if (prompt.messages === undefined) {
        out += `-- ${prompt.step}: ${prompt.note ?? "not rendered"}\n`;
        continue;
      }
      for (const message of prompt.messages) out += `-- ${prompt.step} ${message.role}:\n${indent(message.content, 4)}\n`;
    }
  }
  return out;
}

export function estimateText(report: EstimateReport, concurrency: number): string {
  const { ok, failed, filtered } = report.outcomes;
  let out = `Estimate from a sample of ${report.sampleRows} rows (${ok} ok, ${failed} failed, ${filtered} filtered) in ${report.sampleSeconds.toFixed(1)}s; nothing was written.\n`;
  out += report.totalRows === undefined ? "Input rows: unknown (stdin cannot be counted ahead): figures below are the sample's.\n" : `Input rows: ${report.totalRows}\n`;
  for (const engine of report.engines) {
    const { inputTokens, outputTokens } = engine.projected;
    out += `  ${engine.engine} (${engine.model}): ${inputTokens} input + ${outputTokens} output tokens`;
    out += engine.cost === undefined ? " (no price_per_million_*_tokens in the engines file)\n" : `, cost ${formatCost(engine.cost)}\n`;
  }
  if (report.cost !== undefined) out += `Projected cost: ${formatCost(report.cost)} (from the engines' prices)\n`;
  if (report.projectedSeconds !== undefined) {
    const rate = report.sampleRows / Math.max(report.sampleSeconds, 1e-3);
    out += `Projected time: ${formatDuration(report.projectedSeconds)} at ${rate.toFixed(1)} rows/s (the sample's throughput, concurrency ${concurrency}): a rough projection; a small sample rarely fills the engines.\n`;
  }
  out += "Run the same command without --estimate to start the run.\n";
  return out;
}

/** Two decimals, or three significant digits below 1 (a sample's cost is often a fraction of a cent). */
function formatCost(cost: number): string {
  return cost >= 1 || cost === 0 ? cost.toFixed(2) : cost.toPrecision(3);
}

function indent(text: string, spaces: number): string {
  const pad = " ".repeat(spaces);
  return text.split("\n").map((line) => pad + line).join("\n");
}
