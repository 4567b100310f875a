import { isChainetteError } from "../errors.js";

/** 0 complete, 2 bad usage or invalid chain, 1 other failures, 130 after Ctrl-C. */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

export function exitCodeFor(error: unknown): number {
  if (isChainetteError(error)) {
    switch (error.code) {
      case "USAGE":
      case "CHAIN_INVALID":
      case "INPUT_UNREADABLE":
      case "RUN_CHANGED":
      case "ENGINE_CONFIG":
        return EXIT.usage;
      default:
        return EXIT.failure;
    }
  }
  return EXIT.failure;
}
