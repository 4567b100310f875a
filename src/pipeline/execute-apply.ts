import { z } from "zod";
import { nestingProblem } from "../core/nesting-depth.js";
import type { ApplyPlan } from "../core/plan.js";
import type { RowContext } from "../core/row-context.js";
import { failRow, fanOutRow, filterRow, type Row, type RowFailure } from "./row.js";
import { checkInput } from "./check-input.js";
import type { NodeRuntime } from "./node-runtime.js";
import { safeParse } from "./safe-parse.js";

/**
 * Runs an apply node on one row and reports it (one `node-end` event, its latency). Returns the
 * rows that continue: one (mapped, failed or filtered), or the fan-out children.
 */
export function executeApply(plan: ApplyPlan, row: Row, runtime: NodeRuntime): Row[] | Promise<Row[]> {
  if (row.state !== "active") return [row];
  const started = performance.now();
  const report = (rows: Row[]): Row[] => {
    const latencyMs = performance.now() - started;
    for (const out of rows) {
      const record = out.records.at(-1);
      if (out.state === "active" && record?.node === plan.id) record.latencyMs = latencyMs;
    }
    const first = rows[0];
    const status = first === undefined || first.state === "active" ? "ok" : first.state;
    runtime.emit({ type: "node-end", node: plan.id, status, started: false, latencyMs, inputTokens: 0, outputTokens: 0 });
    return rows;
  };
  const result = applyOne(plan, row);
  return result instanceof Promise ? result.then((applied) => report(rowsOf(applied))) : report(rowsOf(result));
}

/** What an apply leaves of one row: the row itself (mapped, failed or filtered), or its fan-out children. */
type Applied = Row | Row[];

function rowsOf(applied: Applied): Row[] {
  return Array.isArray(applied) ? applied : [applied];
}

/**
 * The hot path for a synchronous apply on the main flow: a whole micro-batch in one loop, timed
 * once, reported in one `node-batch` event (no event, clock read or promise per row). A function
 * that returns a promise anyway is awaited with the rest of its batch.
 */
export async function executeApplyBatch(plan: ApplyPlan, rows: readonly Row[], runtime: NodeRuntime): Promise<Row[]> {
  const started = performance.now();
  const out: Row[] = [];
  const add = (applied: Applied): void => {
    if (!Array.isArray(applied)) out.push(applied);
    else for (const child of applied) out.push(child);
  };
  let waiting: Promise<Applied>[] | undefined;
  for (const row of rows) {
    if (row.state !== "active") {
      out.push(row);
      continue;
    }
    const result = applyOne(plan, row);
    if (result instanceof Promise) (waiting ??= []).push(result);
    else add(result);
  }
  if (waiting) for (const applied of await Promise.all(waiting)) add(applied);
  const latencyMs = (performance.now() - started) / Math.max(1, rows.length);
  const counts = { ok: 0, failed: 0, filtered: 0 };
  for (const row of out) {
    if (row.state === "active") {
      counts.ok++;
      const record = row.records.at(-1);
      if (record?.node === plan.id) record.latencyMs = latencyMs;
    } else if (row.state === "filtered" ? row.filteredBy === plan.id : row.failure?.node === plan.id) counts[row.state]++;
  }
  runtime.emit({ type: "node-batch", node: plan.id, ...counts, latencyMs });
  return out;
}

/** Calls the function on one row; no clock, no events. */
function applyOne(plan: ApplyPlan, row: Row): Applied | Promise<Applied> {
  const inputProblem = checkInput(plan.node.inputModel, row.previous, plan.id, "apply");
  if (inputProblem !== undefined) return failRow(row, inputProblem);
  let result: unknown;
  try {
    // A function of one parameter cannot read the context: it is not built for it (see ApplyNode).
    const fn = plan.node.fn as (input: unknown, context?: RowContext) => unknown;
    result = plan.node.usesContext ? fn(row.previous, row.context) : fn(row.previous);
  } catch (error) {
    return fail(row, plan, error);
  }
  if (result instanceof Promise) {
    return result.then(
      (value: unknown) => settle(plan, row, value),
      (error: unknown) => fail(row, plan, error),
    );
  }
  return settle(plan, row, result);
}

function settle(plan: ApplyPlan, row: Row, value: unknown): Applied {
  const id = plan.id;
  if (value === null || value === undefined) return filterRow(row, id);
  if (plan.node.fanOut) {
    if (!Array.isArray(value)) {
      return failRow(row, { node: id, type: "APPLY_FAILED", message: `fanOut apply returned ${typeof value}, expected an array`, attempts: 1 });
    }
    if (value.length === 0) return filterRow(row, id);
    const items: unknown[] = [];
    for (const item of value) {
      const checked = validate(plan, item);
      if (!checked.ok) return failRow(row, checked.failure);
      items.push(checked.value);
    }
    const children = fanOutRow(row, id, items);
    for (const child of children) child.records.push({ node: id, rowId: child.id, output: child.previous, latencyMs: 0, inputTokens: 0, outputTokens: 0 });
    return children;
  }
  const checked = validate(plan, value);
  if (!checked.ok) return failRow(row, checked.failure);
  const output = checked.value;
  row.setOutput(id, output);
  row.previous = output;
  row.records.push({ node: id, rowId: row.id, output, latencyMs: 0, inputTokens: 0, outputTokens: 0 });
  return row;
}

/**
 * Checks an output against the node's `outputModel` (the value kept is zod's parsed output), then
 * that it can be written: no deeper than `MAX_NESTING_DEPTH`, not circular.
 */
function validate(plan: ApplyPlan, value: unknown): { ok: true; value: unknown } | { ok: false; failure: RowFailure } {
  // Depth first: a recursive outputModel would walk a too-deep or circular value into a stack overflow.
  const problem = nestingProblem(value);
  if (problem !== undefined) return { ok: false, failure: applyFailure(plan, `apply output ${problem}`) };
  const model = plan.node.outputModel;
  if (model === undefined) return { ok: true, value };
  const parsed = safeParse(model, value);
  if (!parsed.success) {
    return { ok: false, failure: applyFailure(plan, `apply output does not match its outputModel: ${parsed.error === undefined ? parsed.thrown : z.prettifyError(parsed.error)}`) };
  }
  // A transform may have built a new value.
  const transformed = parsed.data === value ? undefined : nestingProblem(parsed.data);
  if (transformed !== undefined) return { ok: false, failure: applyFailure(plan, `apply output (as its outputModel parsed it) ${transformed}`) };
  return { ok: true, value: parsed.data };
}

function applyFailure(plan: ApplyPlan, message: string): RowFailure {
  return { node: plan.id, type: "APPLY_FAILED", message, attempts: 1 };
}

function fail(row: Row, plan: ApplyPlan, error: unknown): Row {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return failRow(row, { node: plan.id, type: "APPLY_FAILED", message, attempts: 1 });
}

/** True for `async function` / `async () =>`: those get the windowed per-row path, with concurrency. */
export function isAsyncFunction(fn: unknown): boolean {
  return typeof fn === "function" && fn.constructor.name === "AsyncFunction";
}
