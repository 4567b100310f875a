/**
 * How `chain.run()` reaches the pipeline without `core` importing it: the package entry point
 * (`src/index.ts`) installs a runner that loads the pipeline on first use. Core stays free of I/O
 * and of every layer above it (the layering is a lint rule, see eslint.config.js).
 */
import { ChainetteError } from "../errors.js";
import type { Chain, ChainRunOptions, RowResult } from "./chain.js";

export type ChainRunner = (chain: Chain, inputs: Iterable<unknown> | AsyncIterable<unknown>, options: ChainRunOptions) => AsyncGenerator<RowResult>;

let runner: ChainRunner | undefined;

/** Installs the function behind `chain.run()` (done once, by the package entry point). */
export function setChainRunner(next: ChainRunner): void {
  runner = next;
}

export function chainRunner(): ChainRunner {
  if (runner === undefined) throw new ChainetteError("USAGE", "chain.run() needs the pipeline: import Chain from \"chainette-stream\", not from an internal module");
  return runner;
}
