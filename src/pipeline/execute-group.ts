import type { ElementPlan, GroupPlan } from "../core/plan.js";
import { executeApply } from "./execute-apply.js";
import { executeStep } from "./execute-step.js";
import type { NodeRuntime } from "./node-runtime.js";
import { failRow, filterRow, type Row } from "./row.js";

/**
 * Runs a parallel group on one row: every branch starts at once on its own view of the row, and
 * when all are done the joined branches merge into the row (node outputs by id, the branch's last output under its alias).
 * A failure in any branch fails the row; a filter in a joined branch drops it; a filter in a side
 * branch only ends that branch.
 */
export async function executeGroup(group: GroupPlan, row: Row, runtime: NodeRuntime): Promise<Row[]> {
  if (row.state !== "active") return [row];
  const results = await Promise.all(
    group.branches.map(async (branch) => {
      const view = row.branch();
      const end = await executeSequence(branch.elements, view, runtime);
      return { branch, view: end };
    }),
  );
  for (const { branch, view } of results) {
    row.records.push(...view.records);
    if (view.state === "failed" && (row.state as Row["state"]) !== "failed" && view.failure) failRow(row, view.failure);
    if (branch.alias === undefined) continue;
    if (view.state === "filtered" && row.state === "active") filterRow(row, view.filteredBy ?? branch.name);
    if (view.state !== "active") continue;
    for (const [key, value] of Object.entries(view.outputs)) if (!(key in row.outputs)) row.setOutput(key, value);
    row.setOutput(branch.alias, view.previous);
  }
  return [row];
}

/** Runs elements one after another on a single row (branches cannot fan out, so one row in, one out). */
async function executeSequence(elements: readonly ElementPlan[], row: Row, runtime: NodeRuntime): Promise<Row> {
  let current = row;
  for (const element of elements) {
    if (current.state !== "active") break;
    const next = await executeElement(element, current, runtime);
    current = next[0] ?? current;
  }
  return current;
}

export function executeElement(element: ElementPlan, row: Row, runtime: NodeRuntime): Row[] | Promise<Row[]> {
  switch (element.kind) {
    case "step":
      return executeStep(element, row, runtime);
    case "apply":
      return executeApply(element, row, runtime);
    case "group":
      return executeGroup(element, row, runtime);
  }
}
