import type { z } from "zod";
import type { ApplyNode } from "./apply.js";
import type { Branch } from "./branch.js";
import type { Step } from "./step.js";
import { chainRunner } from "./chain-runner.js";

/** An item of `Chain.steps`: a Step, an apply node, or a parallel group of branches. */
export type ChainElement = Step | ApplyNode | readonly Branch[];

export interface ChainOptions<Steps extends readonly ChainElement[] = readonly ChainElement[]> {
  name: string;
  steps: Steps;
}

/** Options of `chain.run()`, the library entry point (the CLI adds files, ledger and resume). */
export interface ChainRunOptions {
  /** Requests in flight per engine. @default 256 */
  concurrency?: number;
  /** Rows per micro-batch between stages. @default 256 */
  batchSize?: number;
  /** Aborts the run: in-flight requests are cancelled and the iterable ends. */
  signal?: AbortSignal;
}

/** What a row cost, summed over the nodes it passed (a failed LLM step's askings included). */
export interface RowUsage {
  inputTokens: number;
  outputTokens: number;
  /** Time spent in nodes, in milliseconds (parallel branches add up). */
  latencyMs: number;
}

/** Why a row failed: the node, the error type (`APPLY_FAILED`, `SCHEMA_MISMATCH`, ...), the last raw reply. */
export interface RowResultError {
  type: string;
  message: string;
  /** Askings (schema repair) or transport attempts the node made. */
  attempts: number;
  /** HTTP status of the engine's last reply, when it was an error. */
  status?: number;
  /** The model's last reply, when it never matched the schema. */
  rawText?: string;
}

/**
 * What `chain.run()` yields for each finished row (fan-out children each yield their own).
 * `output` is typed from the chain's last node; `input` is the chain input it started from (a
 * failed row's may be anything: an input that is not an object fails as `INPUT_ROW`).
 * A fan-out child's usage counts its own nodes: what its parent spent is in no child's usage.
 */
export type RowResult<Input = unknown, Output = unknown> =
  | { status: "ok"; rowId: string; input: Input; output: Output; outputs: Record<string, unknown>; usage: RowUsage }
  | { status: "failed"; rowId: string; input: unknown; node: string; error: RowResultError; usage: RowUsage }
  | { status: "filtered"; rowId: string; input: Input; node: string; usage: RowUsage };

/**
 * What the chain's first element declares it takes: a Step's inputModel type, an apply's parameter
 * (annotated or from its inputModel); `unknown` when it declares nothing (then nothing is checked
 * against it).
 */
export type DeclaredInput<Steps extends readonly ChainElement[]> = Steps extends readonly [infer First, ...unknown[]]
  ? First extends Step<infer Model, z.ZodType> ? z.input<Model>
    : First extends ApplyNode<infer Input, unknown> ? Input
    : unknown
  : unknown;

/** What `chain.run()` takes: the first element's declared input, else any object. */
export type ChainInput<Steps extends readonly ChainElement[]> = unknown extends DeclaredInput<Steps> ? Record<string, unknown> : DeclaredInput<Steps>;

/**
 * What `Element` passes on when `Previous` reaches it: a Step its output model's type, an apply its
 * output, a parallel group what reached it (joined branches add aliases to the context, not to it).
 */
export type ElementOutput<Element, Previous> = Element extends Step<z.ZodType, infer Model> ? z.output<Model>
  : Element extends ApplyNode<never, infer Output> ? Output
  : Element extends readonly Branch[] ? Previous
  : unknown;

/** What reaches the end of `Steps` when `Previous` enters it (`unknown` when the list is not a tuple). */
export type ChainOutput<Steps extends readonly unknown[], Previous> = Steps extends readonly [infer First, ...infer Rest]
  ? ChainOutput<Rest, ElementOutput<First, Previous>>
  : Steps extends readonly [] ? Previous : unknown;

/**
 * `Steps` with each apply required to take what the element before it passes on (not checked
 * after an element whose output is `unknown`, such as a Step declared as plain `Step`).
 */
export type CheckedSteps<Steps extends readonly unknown[], Previous> = Steps extends readonly [infer First, ...infer Rest]
  ? [unknown extends Previous ? First : First extends ApplyNode<never, infer Output> ? ApplyNode<Previous, Output> : First, ...CheckedSteps<Rest, ElementOutput<First, Previous>>]
  : Steps;

/** A typed pipeline: a list of nodes and parallel groups, run row by row as a stream. */
class TypedChain<Input, Output> {
  readonly kind = "chain" as const;
  readonly name: string;
  readonly steps: readonly ChainElement[];

  constructor(options: ChainOptions) {
    this.name = options.name;
    this.steps = options.steps;
  }

  /**
   * Streams `inputs` through the chain and yields each row's result as it completes.
   * The pipeline lives in `src/pipeline`; the package entry point installs it (`chain-runner.ts`),
   * loaded on first use, so `core` stays free of I/O and of every layer above it.
   */
  async *run(inputs: Iterable<Input> | AsyncIterable<Input>, options: ChainRunOptions = {}): AsyncGenerator<RowResult<Input, Output>> {
    yield* chainRunner()(this, inputs, options) as AsyncGenerator<RowResult<Input, Output>>;
  }

  /**
   * A new chain with `element` appended. An apply written in place gets its parameter typed from
   * this chain's output: `chain.pipe(apply((answer) => answer.text, { id: "text" }))`.
   */
  pipe<Next>(element: ApplyNode<Output, Next>): Chain<Input, Next>;
  pipe<Model extends z.ZodType>(element: Step<z.ZodType, Model>): Chain<Input, z.output<Model>>;
  pipe(element: readonly Branch[]): Chain<Input, Output>;
  pipe(element: ChainElement): Chain<Input, unknown> {
    return new TypedChain<Input, unknown>({ name: this.name, steps: [...this.steps, element] });
  }
}

/** A chain taking `Input` rows and passing `Output` out of its last node. */
export type Chain<Input = unknown, Output = unknown> = TypedChain<Input, Output>;

export interface ChainConstructor {
  /** Types the chain from its steps: the first element's input, the last one's output. */
  new <const Steps extends readonly ChainElement[]>(
    options: ChainOptions<Steps & NoInfer<CheckedSteps<Steps, DeclaredInput<Steps>>>>,
  ): Chain<ChainInput<Steps>, ChainOutput<Steps, ChainInput<Steps>>>;
  readonly prototype: Chain;
}

/**
 * `new Chain({ name, steps: [...] })`. Its input and output types come from the steps; an apply whose
 * parameter does not take what the element before it passes on does not compile.
 */
export const Chain: ChainConstructor = TypedChain;
