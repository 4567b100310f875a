/**
 * `chain.run(inputs)`: the same stages as the CLI, fed from an iterable and yielding each row's
 * result as it completes. No files, no ledger: a library user keeps what they need.
 */
import { setMaxListeners } from "node:events";
import type { Chain, ChainRunOptions, RowResult, RowResultError, RowUsage } from "../core/chain.js";
import { buildPlan } from "../core/plan.js";
import { resolveEngineConfigs } from "../engines/resolve-engine-configs.js";
import { closeEngines, createPlanEngines } from "../pipeline/create-engines.js";
import { createRootRow, failRow, type Row } from "../pipeline/row.js";
import { buildStages, connectStages } from "../pipeline/stages.js";

export async function* runChainIterable(
  chain: Chain,
  inputs: Iterable<unknown> | AsyncIterable<unknown>,
  options: ChainRunOptions,
): AsyncGenerator<RowResult> {
  const configs = resolveEngineConfigs();
  const plan = buildPlan(chain, { engineNames: new Set(configs.map((config) => config.name)) });
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onAbort = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const engines = createPlanEngines(plan, configs, { defaultConcurrency: options.concurrency ?? 256 });
  const runtime = { engines, emit: () => {}, signal: controller.signal };
  const stages = buildStages(plan, runtime, { concurrency: options.concurrency ?? 256 });
  const leafIds = plan.nodes.map((node) => node.id);
  // Inputs that are not objects, kept (by row id) until their failed result is yielded: a result
  // carries the input as given, and a row holds only an object. At most one batch of them.
  const rejected = new Map<string, unknown>();
  try {
    for await (const leaves of connectStages(rowsOf(inputs, options.batchSize ?? 256, controller.signal, rejected), stages)) {
      for (const leaf of leaves) {
        const input = rejected.has(leaf.id) ? rejected.get(leaf.id) : leaf.root.input;
        rejected.delete(leaf.id);
        yield resultOf(leaf, input, leafIds);
      }
    }
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    controller.abort();
    await closeEngines(engines);
  }
}

async function* rowsOf(
  inputs: Iterable<unknown> | AsyncIterable<unknown>,
  batchSize: number,
  signal: AbortSignal,
  rejected: Map<string, unknown>,
): AsyncGenerator<Row[]> {
  let batch: Row[] = [];
  let index = 0;
  for await (const input of inputs) {
    if (signal.aborted) return;
    const isObject = typeof input === "object" && input !== null && !Array.isArray(input);
    const row = createRootRow(index, isObject ? (input as Record<string, unknown>) : {}, undefined);
    if (!isObject) rejected.set(row.id, input);
    if (!isObject) failRow(row, { node: "input", type: "INPUT_ROW", message: `row ${index} is ${Array.isArray(input) ? "an array" : typeof input}, expected an object`, attempts: 0 });
    index++;
    batch.push(row);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

function resultOf(leaf: Row, input: unknown, nodeIds: readonly string[]): RowResult {
  const usage = usageOf(leaf);
  if (leaf.state === "failed") {
    const failure = leaf.failure;
    const error: RowResultError = { type: failure?.type ?? "UNKNOWN", message: failure?.message ?? "", attempts: failure?.attempts ?? 0 };
    if (failure?.status !== undefined) error.status = failure.status;
    if (failure?.rawText !== undefined) error.rawText = failure.rawText;
    return { status: "failed", rowId: leaf.id, input, node: failure?.node ?? "", error, usage };
  }
  if (leaf.state === "filtered") return { status: "filtered", rowId: leaf.id, input, node: leaf.filteredBy ?? "", usage };
  const outputs: Record<string, unknown> = {};
  for (const id of nodeIds) if (leaf.outputs[id] !== undefined) outputs[id] = leaf.outputs[id];
  return { status: "ok", rowId: leaf.id, input, output: leaf.previous, outputs, usage };
}

/** The row's own node records, plus what a failing step spent (it leaves no record). */
function usageOf(leaf: Row): RowUsage {
  const usage: RowUsage = { inputTokens: 0, outputTokens: 0, latencyMs: 0 };
  for (const record of leaf.records) {
    usage.inputTokens += record.inputTokens;
    usage.outputTokens += record.outputTokens;
    usage.latencyMs += record.latencyMs;
  }
  const spent = leaf.failure?.usage;
  if (spent !== undefined) {
    usage.inputTokens += spent.inputTokens;
    usage.outputTokens += spent.outputTokens;
    usage.latencyMs += spent.latencyMs;
  }
  return usage;
}
