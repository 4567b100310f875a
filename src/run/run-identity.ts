/**
 * What makes earlier results valid: the chain (each node's fingerprint), the input's fingerprint,
 * and the output format. A resume with a different identity is refused, naming what changed.
 */
import type { ChainPlan } from "../core/plan.js";
import type { InputFingerprint } from "../io/source.js";

export interface RunIdentity {
  chain: string;
  chainFingerprint: string;
  nodes: Record<string, string>;
  input: InputFingerprint;
  format: string;
}

export function runIdentity(plan: ChainPlan, input: InputFingerprint, format: string): RunIdentity {
  return { chain: plan.name, chainFingerprint: plan.fingerprint, nodes: Object.fromEntries(plan.nodes.map((node) => [node.id, node.fingerprint])), input, format };
}

/** Human-readable differences that invalidate earlier results; empty when the run may resume. */
export function identityChanges(before: RunIdentity, now: RunIdentity): string[] {
  const changes: string[] = [];
  for (const [id, fingerprint] of Object.entries(now.nodes)) {
    const earlier = before.nodes[id];
    if (earlier === undefined) changes.push(`node \`${id}\` is new`);
    else if (earlier !== fingerprint) changes.push(`node \`${id}\` changed (prompt, schema, engine, sampling or code)`);
  }
  for (const id of Object.keys(before.nodes)) if (!(id in now.nodes)) changes.push(`node \`${id}\` was removed`);
  if (changes.length === 0 && before.chainFingerprint !== now.chainFingerprint) changes.push("the chain's structure (order, branches or joins) changed");
  if (before.format !== now.format) changes.push(`the output format changed from ${before.format} to ${now.format}`);
  if (before.input.path !== now.input.path) changes.push(`the input changed from ${before.input.path} to ${now.input.path}`);
  else if (JSON.stringify(before.input.files) !== JSON.stringify(now.input.files)) changes.push(`the input ${now.input.path} changed (size, modification time or content)`);
  return changes;
}
