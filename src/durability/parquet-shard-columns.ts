/**
 * The Parquet columns of each output folder, typed from the plan: a node's folder from the node's
 * output schema, `flattened/` from the chain's input schema and every node's schema, `errors/` from
 * the error record's fixed shape. What the plan cannot type (an untyped apply, input columns of a
 * chain whose first element is not a typed step, keys outside a schema) becomes a nullable column
 * holding the value's JSON text, one per key seen in the shard, so no value is ever dropped.
 */
import type { ChainPlan } from "../core/plan.js";
import { jsonColumn, parquetColumnsFromJsonSchema, stringColumn, type ParquetColumn } from "../io/parquet-columns.js";

type JsonSchema = Record<string, unknown>;

/** Columns the plan knows, grouped in sections; a key the plan does not type joins its section. */
interface Section {
  typed: ParquetColumn[];
}

export class ShardColumns {
  /**
   * @param sections typed columns, in the order they appear in a shard
   * @param sectionOf the section an untyped key belongs to (its JSON column follows that section's typed ones)
   */
  constructor(private readonly sections: readonly Section[], private readonly sectionOf: (key: string) => number) {}

  /** The columns of a shard whose records hold `keys`: every typed column, then each untyped key seen. */
  columnsFor(keys: Iterable<string>): ParquetColumn[] {
    const typedNames = new Set(this.sections.flatMap((section) => section.typed.map((column) => column.name)));
    const extras = this.sections.map((): ParquetColumn[] => []);
    for (const key of keys) {
      if (typedNames.has(key)) continue;
      extras[this.sectionOf(key)]?.push(key === "_reasoning" ? stringColumn(key, true) : jsonColumn(key));
    }
    return this.sections.flatMap((section, index) => [...section.typed, ...(extras[index] ?? [])]);
  }
}

/** Every output folder's columns: one entry per node id, plus `flattened`, `errors` and `filtered`. */
export function shardColumnsOf(plan: ChainPlan): Map<string, ShardColumns> {
  const layouts = new Map<string, ShardColumns>();
  for (const node of plan.nodes) {
    layouts.set(node.id, new ShardColumns([{ typed: [stringColumn("row_id"), ...outputColumns(node.outputSchema, undefined).filter((column) => column.name !== "row_id")] }], () => 0));
  }
  const nodeSections = plan.nodes.map((node) => ({ typed: outputColumns(node.outputSchema, node.id).map(nullable) }));
  const inputSection = { typed: objectColumns(plan.inputSchema).map(nullable) };
  const nodeIds = plan.nodes.map((node) => node.id);
  layouts.set(
    "flattened",
    new ShardColumns([{ typed: [stringColumn("row_id")] }, inputSection, ...nodeSections], (key) => {
      const node = nodeIds.findIndex((id) => key === id || key.startsWith(`${id}.`));
      return node === -1 ? 1 : node + 2;
    }),
  );
  layouts.set("errors", new ShardColumns([{ typed: ERROR_COLUMNS }], () => 0));
  // `--write-filtered`: `input` (the chain input) becomes a JSON column.
  layouts.set("filtered", new ShardColumns([{ typed: [stringColumn("row_id"), stringColumn("node")] }], () => 0));
  return layouts;
}

/** `row_id`, `node`, `error` as a struct (`error.type` queries directly), `raw` when there was model text. */
const ERROR_COLUMNS: ParquetColumn[] = [
  stringColumn("row_id"),
  stringColumn("node"),
  {
    name: "error",
    kind: "struct",
    nullable: false,
    fields: [stringColumn("type"), stringColumn("message"), { name: "attempts", kind: "int64", nullable: false }, { name: "status", kind: "int64", nullable: true }],
  },
  stringColumn("raw", true),
];

/**
 * A node's output columns. An object schema gives one column per property (`<prefix>.<field>` in
 * `flattened/`); any other schema one column named `value` (or the node id in `flattened/`), the
 * names `record-lines.ts` writes; no schema gives none (the keys seen become JSON columns).
 */
function outputColumns(schema: JsonSchema | undefined, prefix: string | undefined): ParquetColumn[] {
  if (schema === undefined) return [];
  if (hasProperties(schema)) return objectColumns(schema).map((column) => (prefix === undefined ? column : { ...column, name: `${prefix}.${column.name}` }));
  const name = prefix ?? "value";
  return parquetColumnsFromJsonSchema({ type: "object", properties: { [name]: schema }, required: [name] });
}

function objectColumns(schema: JsonSchema | undefined): ParquetColumn[] {
  return schema !== undefined && hasProperties(schema) ? parquetColumnsFromJsonSchema(schema) : [];
}

function hasProperties(schema: JsonSchema): boolean {
  return typeof schema.properties === "object" && schema.properties !== null && Object.keys(schema.properties).length > 0;
}

/** In `flattened/` a node's fields exist only on rows that reached it; the input is kept as read. */
function nullable(column: ParquetColumn): ParquetColumn {
  return { ...column, nullable: true };
}
