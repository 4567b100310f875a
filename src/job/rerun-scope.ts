/**
 * Which nodes a rerun recomputes after a chain change: the changed nodes (a new or changed
 * fingerprint, or an engine whose model fields changed) and every node downstream of them along the
 * plan's edges. A parallel branch is downstream of what precedes its group only; what follows a
 * group is downstream of all its branches. Unchanged steps upstream of every change are answered
 * from the response cache; what the report says, not what decides it (a cache miss always asks).
 */
import type { ChainPlan, ElementPlan } from "../core/plan.js";
import type { RunIdentity } from "./run-identity.js";

export interface RerunScope {
  /** Nodes whose outputs may differ, in row order. */
  recomputed: string[];
  /** Unchanged LLM steps upstream of every change: their replies come from the cache. */
  fromCache: string[];
  /** Nodes of the earlier chain that this one does not have (their folders go away). */
  removed: string[];
}

export function rerunScope(plan: ChainPlan, before: RunIdentity, now: RunIdentity): RerunScope {
  const changedEngines = new Set(
    Object.entries(now.engines ?? {}).flatMap(([name, engine]) => {
      const earlier = before.engines?.[name];
      return earlier !== undefined && JSON.stringify(sortedEntries(earlier)) !== JSON.stringify(sortedEntries(engine)) ? [name] : [];
    }),
  );
  const changed = new Set(
    plan.nodes.filter((node) => before.nodes[node.id] !== node.fingerprint || (node.kind === "step" && changedEngines.has(node.engineName))).map((node) => node.id),
  );
  // Same nodes in another order or arrangement: every output may differ.
  const restructured = changed.size === 0 && before.chainFingerprint !== now.chainFingerprint;
  const recomputed = new Set<string>();
  markDownstream(plan.elements, restructured, changed, recomputed);
  return {
    recomputed: plan.nodes.filter((node) => recomputed.has(node.id)).map((node) => node.id),
    fromCache: plan.nodes.filter((node) => node.kind === "step" && !recomputed.has(node.id)).map((node) => node.id),
    removed: Object.keys(before.nodes).filter((id) => !plan.nodes.some((node) => node.id === id)),
  };
}

/** Marks the nodes at or after a change on each path; returns whether the path's end is affected. */
function markDownstream(elements: readonly ElementPlan[], affected: boolean, changed: ReadonlySet<string>, out: Set<string>): boolean {
  let dirty = affected;
  for (const element of elements) {
    if (element.kind === "group") {
      let any = dirty;
      for (const branch of element.branches) any = markDownstream(branch.elements, dirty, changed, out) || any;
      dirty = any;
    } else if (dirty || changed.has(element.id)) {
      out.add(element.id);
      dirty = true;
    }
  }
  return dirty;
}

function sortedEntries(value: object): [string, unknown][] {
  return Object.entries(value).sort(([a], [b]) => a.localeCompare(b));
}
