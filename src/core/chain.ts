import type { ApplyNode } from "./apply.js";
import type { Branch } from "./branch.js";
import type { Step } from "./step.js";
import { chainRunner } from "./chain-runner.js";

/** An item of `Chain.steps`: a Step, an apply node, or a parallel group of branches. */
export type ChainElement = Step | ApplyNode | Branch[];

export interface ChainOptions {
  name: string;
  steps: ChainElement[];
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

/** What `chain.run()` yields for each finished row (fan-out children each yield their own). */
export type RowResult =
  | { status: "ok"; rowId: string; output: unknown; outputs: Record<string, unknown> }
  | { status: "failed"; rowId: string; node: string; error: { type: string; message: string; attempts: number } }
  | { status: "filtered"; rowId: string; node: string };

/** A typed pipeline: a list of nodes and parallel groups, run row by row as a stream. */
export class Chain {
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
  async *run(inputs: Iterable<unknown> | AsyncIterable<unknown>, options: ChainRunOptions = {}): AsyncGenerator<RowResult> {
    yield* chainRunner()(this, inputs, options);
  }
}
