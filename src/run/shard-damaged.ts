import { ChainetteError } from "../errors.js";

/**
 * `SHARD_DAMAGED`: a shard the ledger committed was changed, cut short or removed. Running the same
 * command cannot get past it, so the message says what can: `--repair` redoes the rows the damaged
 * shards held, `--fresh` discards the whole run.
 */
export function shardDamagedError(path: string, problem: string): ChainetteError {
  return new ChainetteError(
    "SHARD_DAMAGED",
    `${path} ${problem}.\nThe same command cannot resume past it: run it with --repair to redo exactly the rows the damaged shards held, or with --fresh to discard the run and start over.`,
  );
}
