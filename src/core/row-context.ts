/**
 * The template context of a row: the chain input's fields at top level and under `chain_input`,
 * each earlier node's output under its id, and each join alias.
 */
export type RowContext = Record<string, unknown>;

/** A prompt is a template string or a function of the row context. */
export type Prompt = string | ((context: RowContext) => string);

/** Ids a node may not take: they name files or context keys of their own. */
export const RESERVED_IDS: ReadonlySet<string> = new Set([
  "chain_input",
  "row_id",
  "flattened",
  "errors",
  "graph",
  "ledger",
  "summary",
]);

export const ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
