import { isChainetteError } from "../errors.js";

/**
 * 0 complete, 2 bad usage, an invalid chain, or an OUTDIR this run may not use (held by another
 * process, changed run, another application's database), 1 other failures, 130 after Ctrl-C.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

export function exitCodeFor(error: unknown): number {
  if (isChainetteError(error)) {
    switch (error.code) {
      case "USAGE":
      case "CHAIN_INVALID":
      case "INPUT_UNREADABLE":
      case "RUN_CHANGED":
      case "ENGINE_CONFIG":
      case "OUTDIR_LOCKED":
      case "LEDGER_FOREIGN":
      case "CACHE":
        return EXIT.usage;
      default:
        return EXIT.failure;
    }
  }
  return EXIT.failure;
}

/**
 * Whether running the same command again can get past this failure once its cause is gone (an
 * engine back up, disk space freed). Not for a damaged ledger or shard, a changed run, or bad usage:
 * those need another command (`--repair`, `--fresh`, other options), which the message names.
 */
export function resumableAsIs(error: unknown): boolean {
  if (!isChainetteError(error)) return true;
  switch (error.code) {
    case "USAGE":
    case "RUN_CHANGED":
    case "LEDGER_CORRUPT":
    case "LEDGER_FOREIGN":
    case "SHARD_DAMAGED":
    case "CACHE":
      return false;
    default:
      return true;
  }
}
