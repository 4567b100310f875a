/**
 * `run --estimate N`: runs the first N rows against the engines through the same stages as a run
 * (nothing is written: no OUTDIR, no lock, no ledger), then projects the whole input's tokens, time
 * and cost from that sample. Time is the sample's throughput (rows/s at the configured concurrency)
 * applied to every row: a rough projection, since a small sample rarely fills the engines the way a
 * long run does. Cost uses the optional `price_per_million_*_tokens` fields of each engine.
 */
import { setMaxListeners } from "node:events";
import type { Chain } from "../core/chain.js";
import { buildPlan } from "../core/plan.js";
import { checkServedModel } from "../engines/check-served-model.js";
import type { EngineConfig } from "../engines/engine.js";
import { ChainetteError } from "../errors.js";
import { isSeekableFile } from "../io/byte-stream.js";
import { countLines } from "../io/count-lines.js";
import { openSource } from "../io/open-source.js";
import type { OpenSourceOptions } from "../io/source.js";
import { closeEngines, createPlanEngines } from "../pipeline/create-engines.js";
import type { RunEvent } from "../pipeline/events.js";
import { sourceRows } from "../pipeline/source-rows.js";
import { buildStages, connectStages } from "../pipeline/stages.js";

export interface EstimateOptions {
  chain: Chain;
  input: string;
  engines: readonly EngineConfig[];
  /** Rows in the sample, from the first. */
  rows: number;
  /** Requests in flight per engine when the engine does not set `concurrency`. @default 256 */
  concurrency?: number;
  /** @default 256 */
  batchSize?: number;
  source?: OpenSourceOptions;
  signal?: AbortSignal;
}

export interface EngineEstimate {
  engine: string;
  model: string;
  /** Tokens the sample used (failed attempts and schema repairs included). */
  sample: { inputTokens: number; outputTokens: number };
  /** The same, scaled to every input row. */
  projected: { inputTokens: number; outputTokens: number };
  /** Projected cost in the prices' currency, when the engine declares both prices. */
  cost?: number;
}

export interface EstimateReport {
  /** Root rows the sample ran. */
  sampleRows: number;
  /** Leaves of the sample by outcome. */
  outcomes: { ok: number; failed: number; filtered: number };
  sampleSeconds: number;
  /** Rows in the whole input (`--limit` applied); undefined when it cannot be counted (stdin). */
  totalRows: number | undefined;
  engines: EngineEstimate[];
  /** Seconds for every row at the sample's throughput; undefined without a total. */
  projectedSeconds: number | undefined;
  /** Sum of the engines' costs; undefined unless every engine a step uses has prices. */
  cost: number | undefined;
}

export async function estimateRun(options: EstimateOptions): Promise<EstimateReport> {
  if (options.rows < 1) throw new ChainetteError("USAGE", "--estimate needs a sample of at least 1 row");
  const plan = buildPlan(options.chain, { engineNames: new Set(options.engines.map((engine) => engine.name)) });
  const limit = options.source?.limit;
  const sampleLimit = limit === undefined ? options.rows : Math.min(limit, options.rows);
  const source = await openSource(options.input, { ...options.source, limit: sampleLimit });
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onAbort = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const engineOf = new Map(plan.nodes.flatMap((node) => (node.kind === "step" ? [[node.id, node.engineName] as const] : [])));
  const tokens = new Map<string, { inputTokens: number; outputTokens: number }>();
  const emit = (event: RunEvent): void => {
    if (event.type !== "node-end") return;
    const engine = engineOf.get(event.node);
    if (engine === undefined) return;
    const used = tokens.get(engine) ?? { inputTokens: 0, outputTokens: 0 };
    used.inputTokens += event.inputTokens;
    used.outputTokens += event.outputTokens;
    tokens.set(engine, used);
  };
  const engines = createPlanEngines(plan, options.engines, { defaultConcurrency: options.concurrency ?? 256 });
  const roots = new Set<number>();
  const outcomes = { ok: 0, failed: 0, filtered: 0 };
  let sampleSeconds: number;
  try {
    const problems = (await Promise.all([...engines.values()].map((engine) => checkServedModel(engine.config)))).flat();
    if (problems.length > 0) throw new ChainetteError("ENGINE_CONFIG", problems.join("\n"));
    const started = performance.now();
    const rows = sourceRows(source, { from: { row: 0 }, isDone: () => false, batchSize: options.batchSize ?? 256, stopRequested: () => controller.signal.aborted, emit, signal: controller.signal });
    const stages = buildStages(plan, { engines, emit, signal: controller.signal }, { concurrency: options.concurrency ?? 256 });
    for await (const leaves of connectStages(rows, stages)) {
      for (const leaf of leaves) {
        roots.add(leaf.root.index);
        if (leaf.state === "failed") outcomes.failed++;
        else if (leaf.state === "filtered") outcomes.filtered++;
        else outcomes.ok++;
      }
    }
    if (controller.signal.aborted) throw new ChainetteError("ABORTED", "the estimate was interrupted");
    sampleSeconds = (performance.now() - started) / 1000;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    controller.abort();
    await closeEngines(engines);
  }

  const totalRows = await countRows(options.input, options.source ?? {});
  const sampleRows = roots.size;
  const scale = totalRows === undefined || sampleRows === 0 ? undefined : totalRows / sampleRows;
  const estimates = [...new Set(engineOf.values())].map((name): EngineEstimate => {
    const config = options.engines.find((engine) => engine.name === name);
    const sample = tokens.get(name) ?? { inputTokens: 0, outputTokens: 0 };
    const projected = scale === undefined ? sample : { inputTokens: Math.round(sample.inputTokens * scale), outputTokens: Math.round(sample.outputTokens * scale) };
    const estimate: EngineEstimate = { engine: name, model: config?.model ?? "", sample, projected };
    const inputPrice = config?.pricePerMillionInputTokens;
    const outputPrice = config?.pricePerMillionOutputTokens;
    if (scale !== undefined && inputPrice !== undefined && outputPrice !== undefined) {
      estimate.cost = (projected.inputTokens * inputPrice + projected.outputTokens * outputPrice) / 1_000_000;
    }
    return estimate;
  });
  const priced = estimates.every((estimate) => estimate.cost !== undefined);
  return {
    sampleRows,
    outcomes,
    sampleSeconds,
    totalRows,
    engines: estimates,
    projectedSeconds: totalRows === undefined || sampleRows === 0 ? undefined : (totalRows / sampleRows) * sampleSeconds,
    cost: priced && estimates.length > 0 ? estimates.reduce((sum, estimate) => sum + (estimate.cost ?? 0), 0) : undefined,
  };
}

/** Rows in the whole input: from metadata, else by counting a JSONL file's lines; `--limit` caps it. */
async function countRows(input: string, sourceOptions: OpenSourceOptions): Promise<number | undefined> {
  if (input === "-") return undefined; // the sample consumed what it read of stdin
  const source = await openSource(input, sourceOptions);
  let total = await source.totalRows();
  if (total === undefined && source.format === "jsonl" && isSeekableFile(input)) total = await countLines(input);
  if (total === undefined) return undefined;
  return sourceOptions.limit === undefined ? total : Math.min(total, sourceOptions.limit);
}
