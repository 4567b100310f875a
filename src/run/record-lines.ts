/**
 * The JSON lines a finished root row writes: one per node output, one flattened record per leaf
 * that reached the end, one error record per failed leaf. Every record carries `row_id`.
 *
 * Lines are built as strings on the hot path: the input's JSON text is spliced in as read (when the
 * source kept it) and each output is stringified once, instead of building and stringifying a new
 * object per record. `row_id` is made of digits and dots, so it needs no escaping.
 */
import type { NodeRecord, Row } from "./row.js";

/** A node's record: `row_id` then the output's fields (an untyped apply's own `row_id` becomes `_row_id`). */
export function nodeLine(record: NodeRecord): string {
  const output = record.output;
  let line = `{"row_id":"${record.rowId}"`;
  if (isPlainObject(output)) line += objectBody(JSON.stringify(Object.hasOwn(output, "row_id") ? { ...output, row_id: undefined, _row_id: output.row_id } : output));
  else line += `,"value":${JSON.stringify(output) ?? "null"}`;
  if (record.reasoning !== undefined) line += `,"_reasoning":${JSON.stringify(record.reasoning)}`;
  return `${line}}`;
}

/** `row_id`, the input columns, and each node's output fields as `"<node_id>.<field>"`. */
export class FlattenedLines {
  /** `"qa.answer"` etc., quoted once per node and field. */
  private readonly keys = new Map<string, Map<string, string>>();

  constructor(private readonly nodeIds: readonly string[]) {
    for (const id of nodeIds) this.keys.set(id, new Map());
  }

  line(leaf: Row): string {
    const root = leaf.root;
    let line = `{"row_id":"${leaf.id}"`;
    if (Object.hasOwn(root.input, "row_id")) {
      // An input column named row_id must not shadow the row's identity: it is kept as chain_input.row_id.
      const { row_id: inputRowId, ...rest } = root.input;
      line += `${objectBody(JSON.stringify(rest))},"chain_input.row_id":${JSON.stringify(inputRowId) ?? "null"}`;
    } else {
      line += root.raw === undefined ? objectBody(JSON.stringify(root.input)) : objectBody(root.raw.trim());
    }
    for (const id of this.nodeIds) {
      const output = leaf.outputs[id];
      if (output === undefined) continue;
      const keys = this.keys.get(id) as Map<string, string>;
      if (!isPlainObject(output)) {
        line += `,${this.key(keys, id, "")}:${JSON.stringify(output) ?? "null"}`;
        continue;
      }
      for (const field in output) {
        const value = output[field];
        if (value === undefined) continue;
        line += `,${this.key(keys, id, field)}:${JSON.stringify(value)}`;
      }
    }
    return `${line}}`;
  }

  private key(keys: Map<string, string>, id: string, field: string): string {
    let quoted = keys.get(field);
    if (quoted === undefined) keys.set(field, (quoted = JSON.stringify(field === "" ? id : `${id}.${field}`)));
    return quoted;
  }
}

export function errorLine(leaf: Row): string {
  const failure = leaf.failure;
  const error: Record<string, unknown> = { type: failure?.type ?? "UNKNOWN", message: failure?.message ?? "", attempts: failure?.attempts ?? 0 };
  if (failure?.status !== undefined) error.status = failure.status;
  const record: Record<string, unknown> = { row_id: leaf.id, node: failure?.node ?? "", error };
  if (failure?.rawText !== undefined) record.raw = failure.rawText;
  return JSON.stringify(record);
}

/** `{"a":1,"b":2}` -> `,"a":1,"b":2`; `{}` -> ``. */
function objectBody(json: string): string {
  const inner = json.slice(1, -1).trim();
  return inner.length === 0 ? "" : `,${inner}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
