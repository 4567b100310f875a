import { ChainetteError } from "../errors.js";

/**
 * `SHARD_DAMAGED`: a shard the ledger committed was changed, cut short or removed. Running the same
 * command cannot get past it, so the message says what can (a Parquet staging shard: `--fresh`).
 */
export function shardDamagedError(path: string, problem: string): ChainetteError {
  return new ChainetteError(
    "SHARD_DAMAGED",
    `${path} ${problem}.\nThe same command cannot resume past it, and --repair works on --format jsonl runs only: rerun with --fresh to discard the run and start over.`,
  );
}
