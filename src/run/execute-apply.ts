import { z } from "zod";
import type { ApplyPlan } from "../core/plan.js";
import { failRow, fanOutRow, filterRow, type Row } from "./row.js";
import type { NodeRuntime } from "./node-runtime.js";

/**
 * Runs an apply node on one row. Synchronous functions stay synchronous (no promise per row on the
 * hot path); async ones return a promise. Returns the rows that continue: one (mapped, failed or
 * filtered), or the fan-out children.
 */
export function executeApply(plan: ApplyPlan, row: Row, runtime: NodeRuntime): Row[] | Promise<Row[]> {
  if (row.state !== "active") return [row];
  const started = performance.now();
  let result: unknown;
  try {
    result = plan.node.fn(row.previous as never, row.context);
  } catch (error) {
    return [finish(plan, fail(row, plan, error), started, runtime)];
  }
  if (result instanceof Promise) {
    return result.then(
      (value: unknown) => settle(plan, row, value, started, runtime),
      (error: unknown) => [finish(plan, fail(row, plan, error), started, runtime)],
    );
  }
  return settle(plan, row, result, started, runtime);
}

function settle(plan: ApplyPlan, row: Row, value: unknown, started: number, runtime: NodeRuntime): Row[] {
  const id = plan.id;
  if (value === null || value === undefined) return [finish(plan, filterRow(row, id), started, runtime)];
  if (plan.node.fanOut) {
    if (!Array.isArray(value)) {
      return [finish(plan, failRow(row, { node: id, type: "APPLY_FAILED", message: `fanOut apply returned ${typeof value}, expected an array`, attempts: 1 }), started, runtime)];
    }
    if (value.length === 0) return [finish(plan, filterRow(row, id), started, runtime)];
    const invalid = value.map((item) => validate(plan, item)).find((problem) => problem !== undefined);
    if (invalid !== undefined) return [finish(plan, failRow(row, invalid), started, runtime)];
    const children = fanOutRow(row, id, value);
    const latencyMs = performance.now() - started;
    for (const child of children) {
      child.records.push({ node: id, rowId: child.id, output: child.previous, latencyMs, inputTokens: 0, outputTokens: 0 });
    }
    runtime.emit({ type: "node-end", node: id, status: "ok", started: false, latencyMs, inputTokens: 0, outputTokens: 0 });
    return children;
  }
  const invalid = validate(plan, value);
  if (invalid !== undefined) return [finish(plan, failRow(row, invalid), started, runtime)];
  row.context[id] = value;
  row.previous = value;
  const latencyMs = performance.now() - started;
  row.records.push({ node: id, rowId: row.id, output: value, latencyMs, inputTokens: 0, outputTokens: 0 });
  runtime.emit({ type: "node-end", node: id, status: "ok", started: false, latencyMs, inputTokens: 0, outputTokens: 0 });
  return [row];
}

function validate(plan: ApplyPlan, value: unknown): Row["failure"] {
  const model = plan.node.outputModel;
  if (model === undefined) return undefined;
  const parsed = model.safeParse(value);
  if (parsed.success) return undefined;
  return { node: plan.id, type: "APPLY_FAILED", message: `apply output does not match its outputModel: ${z.prettifyError(parsed.error)}`, attempts: 1 };
}

function fail(row: Row, plan: ApplyPlan, error: unknown): Row {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return failRow(row, { node: plan.id, type: "APPLY_FAILED", message, attempts: 1 });
}

function finish(plan: ApplyPlan, row: Row, started: number, runtime: NodeRuntime): Row {
  runtime.emit({ type: "node-end", node: plan.id, status: row.state === "filtered" ? "filtered" : "failed", started: false, latencyMs: performance.now() - started, inputTokens: 0, outputTokens: 0 });
  return row;
}
