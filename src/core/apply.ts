import type { z } from "zod";
import type { RowContext } from "./row-context.js";

/** `Input`: what the function takes; an `inputModel` must produce it (and, given, lets TypeScript infer it). */
export interface ApplyOptions<Input = unknown> {
  /** Unique in the chain; names the output folder and the template key. */
  id: string;
  /** @default id */
  name?: string;
  /** Each returned array element becomes a child row (`row_id` "12.0", "12.1", ...). @default false */
  fanOut?: boolean;
  /**
   * Validates what reaches the function (the previous output, or the chain input when the apply
   * comes first); a row that does not match is an error record naming the field.
   */
  inputModel?: z.ZodType<Input>;
  /** Validates (and documents, for template checks) what the function returns; its parsed output is kept. */
  outputModel?: z.ZodType;
  /** Rows in flight at once when the function is async. @default 64 */
  concurrency?: number;
}

/**
 * A pure TypeScript function in the chain. Returning a value maps the row, `null`/`undefined`
 * drops it (filter), an array with `fanOut: true` emits one child row per element.
 */
export type ApplyFunction<Input = never, Output = unknown> = (
  input: Input,
  context: RowContext,
) => Output | null | undefined | Promise<Output | null | undefined>;

export interface ApplyNode {
  readonly kind: "apply";
  readonly id: string;
  readonly name: string;
  readonly fn: ApplyFunction<never>;
  readonly fanOut: boolean;
  readonly inputModel: z.ZodType | undefined;
  readonly outputModel: z.ZodType | undefined;
  readonly concurrency: number;
  /**
   * False when the function declares exactly one parameter: it cannot read the context, so the
   * engine does not build one for it (that object is most of a cheap apply's per-row cost).
   */
  readonly usesContext: boolean;
}

/**
 * `apply((row: Row) => ..., { id })`, or with a model that checks each row first and types the
 * function's parameter: `apply((row) => row.n + 1, { id, inputModel: z.object({ n: z.number() }) })`.
 */
export function apply<Input = never, Output = unknown>(
  fn: ApplyFunction<Input, Output>,
  options: ApplyOptions<Input>,
): ApplyNode {
  return {
    kind: "apply",
    id: options.id,
    name: options.name ?? options.id,
    fn,
    fanOut: options.fanOut ?? false,
    inputModel: options.inputModel,
    outputModel: options.outputModel,
    concurrency: options.concurrency ?? 64,
    usesContext: fn.length !== 1,
  };
}
