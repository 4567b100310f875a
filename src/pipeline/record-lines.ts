/**
 * The JSON lines a finished root row writes: one per node output, one flattened record per leaf
 * that reached the end, one error record per failed leaf. Every record carries `row_id`.
 *
 * Lines are built as strings on the hot path. The input's JSON text is spliced into flattened
 * records as read (when the source kept it), and each output field is stringified once for both
 * lines it appears in: `"answer":…` in the node's record and `"qa.answer":…` in the flattened one.
 * Keys are quoted once per node and field. `row_id` is made of digits and dots: no escaping.
 */
import type { NodeRecord, Row } from "./row.js";

/** A node's quoted keys for one output field: in its own record, and in the flattened one. */
interface FieldKeys {
  own: string;
  flat: string;
}

export class RecordLines {
  private readonly keys = new Map<string, Map<string, FieldKeys>>();

  constructor(private readonly nodeIds: readonly string[]) {
    for (const id of nodeIds) this.keys.set(id, new Map());
  }

  /**
   * A node's record: `row_id` then the output's fields (a field named `row_id` becomes `_row_id`);
   * an output that is not an object is kept under `value`. Leaves on the record the fragment the
   * flattened record takes from it.
   */
  node(record: NodeRecord): string {
    const output = asRecord(record.output);
    let line = `{"row_id":"${record.rowId}"`;
    let flat = "";
    if (output === undefined) {
      const json = JSON.stringify(record.output) ?? "null";
      line += `,"value":${json}`;
      flat = `,${JSON.stringify(record.node)}:${json}`;
    } else {
      for (const field in output) {
        const json = jsonValue(output[field]);
        if (json === undefined) continue;
        const keys = this.fieldKeys(record.node, field);
        line += `,${keys.own}:${json}`;
        flat += `,${keys.flat}:${json}`;
      }
    }
    record.flat = flat;
    if (record.reasoning !== undefined) line += `,"_reasoning":${JSON.stringify(record.reasoning)}`;
    return line + "}";
  }

  /**
   * `row_id`, the input columns, and each node's output fields as `"<node_id>.<field>"`.
   * `records` are the leaf's own records when they hold all its outputs (a row that did not fan
   * out), already written with `node()`: their fragments are reused instead of stringified again.
   */
  flattened(leaf: Row, records?: readonly NodeRecord[]): string {
    const root = leaf.root;
    let line = `{"row_id":"${leaf.id}"`;
    if (Object.hasOwn(root.input, "row_id")) {
      // An input column named row_id must not shadow the row's identity: it is kept as chain_input.row_id.
      const { row_id: inputRowId, ...rest } = root.input;
      line += `${objectBody(JSON.stringify(rest))},"chain_input.row_id":${JSON.stringify(inputRowId) ?? "null"}`;
    } else {
      line += objectBody(root.raw === undefined ? JSON.stringify(root.input) : root.raw.trim());
    }
    if (records !== undefined) {
      for (const record of records) {
        if (record.flat !== undefined && Object.is(leaf.outputs[record.node], record.output)) line += record.flat;
      }
      return line + "}";
    }
    for (const id of this.nodeIds) {
      const value = leaf.outputs[id];
      if (value === undefined) continue;
      const output = asRecord(value);
      if (output === undefined) {
        line += `,${JSON.stringify(id)}:${JSON.stringify(value) ?? "null"}`;
        continue;
      }
      for (const field in output) {
        const json = jsonValue(output[field]);
        if (json !== undefined) line += `,${this.fieldKeys(id, field).flat}:${json}`;
      }
    }
    return line + "}";
  }

  private fieldKeys(node: string, field: string): FieldKeys {
    let byField = this.keys.get(node);
    if (byField === undefined) this.keys.set(node, (byField = new Map<string, FieldKeys>()));
    let keys = byField.get(field);
    if (keys === undefined) {
      keys = { own: JSON.stringify(field === "row_id" ? "_row_id" : field), flat: JSON.stringify(`${node}.${field}`) };
      byField.set(field, keys);
    }
    return keys;
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

/** A filtered leaf's record (`--write-filtered`): its id, the node that filtered it, the chain input as read. */
export function filteredLine(leaf: Row): string {
  const root = leaf.root;
  const input = root.raw === undefined ? JSON.stringify(root.input) : root.raw.trim();
  return `{"row_id":"${leaf.id}","node":${JSON.stringify(leaf.filteredBy ?? "")},"input":${input}}`;
}

/**
 * The output as a plain object whose fields become record fields, or undefined when it is not an
 * object (kept whole under `value`). A class instance or anything with `toJSON` is taken as
 * JSON.stringify sees it.
 */
function asRecord(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype === Object.prototype || prototype === null) return value as Record<string, unknown>;
  const json = JSON.stringify(value);
  return json !== undefined && json.startsWith("{") ? (JSON.parse(json) as Record<string, unknown>) : undefined;
}

/** A field value's JSON, as `JSON.stringify` writes it inside an object (undefined: the field is left out). */
function jsonValue(value: unknown): string | undefined {
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSON.stringify(value);
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    default:
      return value === null ? "null" : JSON.stringify(value);
  }
}

/** `{"a":1,"b":2}` -> `,"a":1,"b":2`; `{}` and `{ }` -> ``. */
function objectBody(json: string): string {
  const inner = json.slice(1, -1);
  return /\S/.test(inner) ? `,${inner}` : "";
}
