import type { z } from "zod";
import type { RowContext } from "./row-context.js";

/**
 * `Input`: what the function takes; an `inputModel` must produce it (and, given, lets TypeScript infer it).
 * `Model` and `FanOut` are inferred from the options: they decide the node's output type.
 */
export interface ApplyOptions<Input = unknown, Model extends z.ZodType | undefined = z.ZodType | undefined, FanOut extends boolean = boolean> {
  /** Unique in the chain; names the output folder and the template key. */
  id: string;
  /** @default id */
  name?: string;
  /** Each returned array element becomes a child row (`row_id` "12.0", "12.1", ...). @default false */
  fanOut?: FanOut;
  /**
   * Validates what reaches the function (the previous output, or the chain input when the apply
   * comes first); a row that does not match is an error record naming the field.
   */
  inputModel?: z.ZodType<Input>;
  /**
   * Validates (and documents, for template checks) what the function returns, each element with
   * `fanOut`; its parsed output is kept, so it is the node's output type.
   */
  outputModel?: Model;
  /** Rows in flight at once when the function is async. @default 64 */
  concurrency?: number;
}

/**
 * A pure TypeScript function in the chain. Returning a value maps the row, `null`/`undefined`
 * drops it (filter), an array with `fanOut: true` emits one child row per element.
 */
export type ApplyFunction<Input = unknown, Output = unknown> = (
  input: Input,
  context: RowContext,
) => Output | null | undefined | Promise<Output | null | undefined>;

/**
 * What an apply node passes on: its outputModel's parsed value when it has one, else what the
 * function returns; with `fanOut`, one element (each child row gets one), never `null` (a filter).
 */
export type ApplyOutput<Returned, Model extends z.ZodType | undefined, FanOut extends boolean> =
  Model extends z.ZodType ? z.output<Model>
  : unknown extends Returned ? unknown
  : true extends FanOut ? (NonNullable<Awaited<Returned>> extends readonly (infer Element)[] ? Element : unknown)
  : NonNullable<Awaited<Returned>>;

/**
 * `Input`: what the function takes. `Output`: what reaches the next node (see `ApplyOutput`).
 * Plain `ApplyNode` (`Input` never) is what every apply node is assignable to.
 */
export interface ApplyNode<Input = never, Output = unknown> {
  readonly kind: "apply";
  readonly id: string;
  readonly name: string;
  readonly fn: ApplyFunction<Input, unknown>;
  readonly fanOut: boolean;
  readonly inputModel: z.ZodType | undefined;
  readonly outputModel: z.ZodType | undefined;
  readonly concurrency: number;
  /**
   * False when the function declares exactly one parameter: it cannot read the context, so the
   * engine does not build one for it (that object is most of a cheap apply's per-row cost).
   */
  readonly usesContext: boolean;
  /** Type only, never set: the output type, for `Chain` to read. */
  readonly "~output"?: Output;
}

/**
 * `apply((row: Row) => ..., { id })`, or with a model that checks each row first and types the
 * function's parameter: `apply((row) => row.n + 1, { id, inputModel: z.object({ n: z.number() }) })`.
 * Given to `chain.pipe()`, the parameter is typed from the chain's output with no annotation.
 */
export function apply<Input = unknown, Returned = unknown, Model extends z.ZodType | undefined = undefined, FanOut extends boolean = false>(
  fn: ApplyFunction<Input, Returned>,
  options: ApplyOptions<Input, Model, FanOut>,
): ApplyNode<Input, ApplyOutput<Returned, Model, FanOut>> {
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
