/**
 * `chain.run(inputs)`: the same stages as the CLI, fed from an iterable and yielding each row's
 * result as it completes. No files, no ledger: a library user keeps what they need.
 */
import { setMaxListeners } from "node:events";
import type { Chain, ChainRunOptions, RowResult } from "../core/chain.js";
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
  try {
    for await (const leaves of connectStages(rowsOf(inputs, options.batchSize ?? 256, controller.signal), stages)) {
      for (const leaf of leaves) yield resultOf(leaf, leafIds);
    }
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    controller.abort();
    await closeEngines(engines);
  }
}

async function* rowsOf(inputs: Iterable<unknown> | AsyncIterable<unknown>, batchSize: number, signal: AbortSignal): AsyncGenerator<Row[]> {
  let batch: Row[] = [];
  let index = 0;
  for await (const input of inputs) {
    if (signal.aborted) return;
    const isObject = typeof input === "object" && input !== null && !Array.isArray(input);
    const row = createRootRow(index, isObject ? (input as Record<string, unknown>) : {}, undefined);
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

function resultOf(leaf: Row, nodeIds: readonly string[]): RowResult {
  if (leaf.state === "failed") {
    const failure = leaf.failure;
    return { status: "failed", rowId: leaf.id, node: failure?.node ?? "", error: { type: failure?.type ?? "UNKNOWN", message: failure?.message ?? "", attempts: failure?.attempts ?? 0 } };
  }
  if (leaf.state === "filtered") return { status: "filtered", rowId: leaf.id, node: leaf.filteredBy ?? "" };
  const outputs: Record<string, unknown> = {};
  for (const id of nodeIds) if (leaf.outputs[id] !== undefined) outputs[id] = leaf.outputs[id];
  return { status: "ok", rowId: leaf.id, output: leaf.previous, outputs };
}
