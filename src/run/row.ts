/**
 * A row in flight. Its identity never changes: `id` is the source position ("12"), or the source
 * position extended by fan-out ("12.0"). All rows born of one source row share a `RootRow`, the
 * unit of commit: its records reach the shards together, and the ledger marks it done once.
 */
import type { RowContext } from "../core/row-context.js";

/** What one node produced for one row, with what it cost. */
export interface NodeRecord {
  node: string;
  rowId: string;
  output: unknown;
  reasoning?: string;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
}

/** Why a row failed: an error record's content. */
export interface RowFailure {
  node: string;
  type: string;
  message: string;
  attempts: number;
  status?: number;
  rawText?: string;
}

export interface RootRow {
  readonly index: number;
  /** Byte offset just past the source row, for the resume watermark. */
  readonly end: number | undefined;
  /** The chain input, for the flattened view. */
  readonly input: Record<string, unknown>;
  /** The input's JSON text as read, when the source kept it (spliced into flattened records). */
  readonly raw: string | undefined;
  /** Leaf rows (this row or its fan-out descendants) not yet at the writer. */
  pending: number;
  /** Records gathered from finished leaves and from rows that fanned out. */
  readonly records: NodeRecord[];
  readonly leaves: Row[];
}

export interface Row {
  readonly id: string;
  readonly root: RootRow;
  /** Template context: input fields, `chain_input`, node outputs by id, join aliases. */
  context: RowContext;
  /** The previous node's output (what an apply receives, what a step's inputModel checks). */
  previous: unknown;
  state: "active" | "failed" | "filtered";
  failure?: RowFailure;
  /** The node that filtered the row out. */
  filteredBy?: string;
  /** Records this row produced since it was born. */
  records: NodeRecord[];
}

export function createRootRow(index: number, input: Record<string, unknown>, end: number | undefined, raw?: string): Row {
  const root: RootRow = { index, end, input, raw, pending: 1, records: [], leaves: [] };
  return { id: String(index), root, context: { ...input, chain_input: input }, previous: input, state: "active", records: [] };
}

/** Children of a fan-out: the parent's records move to the root, each child starts clean. */
export function fanOutRow(parent: Row, node: string, outputs: readonly unknown[]): Row[] {
  parent.root.records.push(...parent.records);
  parent.root.pending += outputs.length - 1;
  return outputs.map((output, position) => ({
    id: `${parent.id}.${position}`,
    root: parent.root,
    context: { ...parent.context, [node]: output },
    previous: output,
    state: "active",
    records: [],
  }));
}

export function failRow(row: Row, failure: RowFailure): Row {
  row.state = "failed";
  row.failure = failure;
  return row;
}

export function filterRow(row: Row, node: string): Row {
  row.state = "filtered";
  row.filteredBy = node;
  return row;
}
