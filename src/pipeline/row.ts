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
  /** This output's part of the flattened record, left here when its own record was written. */
  flat?: string;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  /** Set when the reply came from the response cache: what the request would have cost (tokens above are 0). */
  cached?: { requests: number; inputTokens: number; outputTokens: number };
}

/** Why a row failed: an error record's content. */
export interface RowFailure {
  node: string;
  type: string;
  message: string;
  attempts: number;
  status?: number;
  rawText?: string;
  /** What the failing node spent (an LLM step's askings), for `chain.run()` results; not written to error records. */
  usage?: { inputTokens: number; outputTokens: number; latencyMs: number };
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
  /** Records gathered from leaves that finished while others were pending, and from rows that fanned out. */
  records: NodeRecord[] | undefined;
  /** Leaves that finished while others were pending. */
  leaves: Row[] | undefined;
}

export type RowState = "active" | "failed" | "filtered";

export class Row {
  /** The previous node's output (what an apply receives, what a step's inputModel checks). */
  previous: unknown;
  state: RowState = "active";
  failure: RowFailure | undefined = undefined;
  /** The node that filtered the row out. */
  filteredBy: string | undefined = undefined;
  /** Records this row produced since it was born. */
  records: NodeRecord[] = [];
  /** The template context, built on first use (an apply-only chain never needs it). */
  #context: RowContext | undefined = undefined;

  /**
   * @param outputs what this row added to the chain input: node outputs by id, join aliases
   */
  constructor(
    readonly id: string,
    readonly root: RootRow,
    readonly outputs: Record<string, unknown>,
    previous: unknown,
  ) {
    this.previous = previous;
  }

  /** Template context: input fields, `chain_input`, node outputs by id, join aliases. */
  get context(): RowContext {
    const input = this.root.input;
    return (this.#context ??= { ...input, chain_input: input, ...this.outputs });
  }

  /** Records a node output (or join alias) under `key`, visible to every later template and apply. */
  setOutput(key: string, value: unknown): void {
    this.outputs[key] = value;
    if (this.#context !== undefined) this.#context[key] = value;
  }

  /** A copy that runs one branch of a parallel group: same identity, its own outputs and records. */
  branch(): Row {
    const view = new Row(this.id, this.root, { ...this.outputs }, this.previous);
    view.state = this.state;
    return view;
  }
}

export function createRootRow(index: number, input: Record<string, unknown>, end: number | undefined, raw?: string): Row {
  const root: RootRow = { index, end, input, raw, pending: 1, records: undefined, leaves: undefined };
  return new Row(String(index), root, {}, input);
}

/** Children of a fan-out: the parent's records move to the root, each child starts clean. */
export function fanOutRow(parent: Row, node: string, outputs: readonly unknown[]): Row[] {
  const root = parent.root;
  (root.records ??= []).push(...parent.records);
  root.pending += outputs.length - 1;
  return outputs.map((output, position) => new Row(`${parent.id}.${position}`, root, { ...parent.outputs, [node]: output }, output));
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
