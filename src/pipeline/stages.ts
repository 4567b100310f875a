/**
 * One stage per top-level element of the chain (a step, an apply, a parallel group), each a
 * windowed map over micro-batches of rows, so every LLM stage keeps its engine's concurrency worth
 * of requests in flight across batches.
 */
import type { ChainPlan, ElementPlan } from "../core/plan.js";
import { executeApplyBatch, isAsyncFunction } from "./execute-apply.js";
import { executeElement } from "./execute-group.js";
import type { NodeRuntime } from "./node-runtime.js";
import type { Row } from "./row.js";
import { windowedMap } from "./windowed-map.js";

export type Stage = (source: AsyncIterable<Row[]>) => AsyncGenerator<Row[]>;

export interface StageOptions {
  /** Rows in flight per LLM stage when the engine does not say. @default 256 */
  concurrency: number;
}

export function buildStages(plan: ChainPlan, runtime: NodeRuntime, options: StageOptions): Stage[] {
  return plan.elements.map((element) => {
    if (element.kind === "apply" && !isAsyncFunction(element.node.fn)) {
      return async function* (source: AsyncIterable<Row[]>) {
        for await (const rows of source) yield await executeApplyBatch(element, rows, runtime);
      };
    }
    const window = windowFor(element, runtime, options);
    return (source: AsyncIterable<Row[]>) => windowedMap(source, (row: Row) => executeElement(element, row, runtime), window);
  });
}

function windowFor(element: ElementPlan, runtime: NodeRuntime, options: StageOptions): number {
  switch (element.kind) {
    case "step":
      return runtime.engines.get(element.engineName)?.config.concurrency ?? options.concurrency;
    case "apply":
      return element.node.concurrency;
    case "group":
      return options.concurrency;
  }
}

/** Chains the stages onto a source: `source -> stage 1 -> ... -> stage n`. */
export function connectStages(source: AsyncIterable<Row[]>, stages: readonly Stage[]): AsyncIterable<Row[]> {
  return stages.reduce<AsyncIterable<Row[]>>((upstream, stage) => stage(upstream), source);
}
