/**
 * The JSON lines a finished root row writes: one per node output, one flattened record per leaf
 * that reached the end, one error record per failed leaf. Every record carries `row_id`.
 */
import type { NodeRecord, Row } from "./row.js";

export function nodeRecord(record: NodeRecord): Record<string, unknown> {
  const output = record.output;
  const base: Record<string, unknown> = isPlainObject(output) ? { row_id: record.rowId, ...output } : { row_id: record.rowId, value: output };
  if (record.reasoning !== undefined) base._reasoning = record.reasoning;
  return base;
}

/** `row_id`, the input columns, and each node's output fields as `"<node_id>.<field>"`. */
export function flattenedRecord(leaf: Row, nodeIds: readonly string[]): Record<string, unknown> {
  const flat: Record<string, unknown> = { row_id: leaf.id, ...leaf.root.input };
  for (const id of nodeIds) {
    const output = leaf.context[id];
    if (output === undefined) continue;
    if (isPlainObject(output)) for (const [field, value] of Object.entries(output)) flat[`${id}.${field}`] = value;
    else flat[id] = output;
  }
  return flat;
}

export function errorRecord(leaf: Row): Record<string, unknown> {
  const failure = leaf.failure;
  const error: Record<string, unknown> = { type: failure?.type ?? "UNKNOWN", message: failure?.message ?? "", attempts: failure?.attempts ?? 0 };
  if (failure?.status !== undefined) error.status = failure.status;
  const record: Record<string, unknown> = { row_id: leaf.id, node: failure?.node ?? "", error };
  if (failure?.rawText !== undefined) record.raw = failure.rawText;
  return record;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
