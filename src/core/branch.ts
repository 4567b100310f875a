import type { ChainElement } from "./chain.js";

export interface BranchOptions {
  name: string;
  steps: ChainElement[];
}

/**
 * A sequence of nodes run in parallel with its sibling branches on the same row. `join(alias)`
 * makes the branch's final output visible to later nodes as `{{alias.field}}`; a branch without a
 * join is a side branch: its outputs are written but not merged.
 */
export class Branch {
  readonly kind = "branch" as const;
  readonly name: string;
  readonly steps: readonly ChainElement[];
  readonly alias: string | undefined;

  constructor(options: BranchOptions, alias?: string) {
    this.name = options.name;
    this.steps = options.steps;
    this.alias = alias;
  }

  /** A copy of this branch whose final output joins the main flow as `alias`. */
  join(alias: string): Branch {
    return new Branch({ name: this.name, steps: [...this.steps] }, alias);
  }
}
