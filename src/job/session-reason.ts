/**
 * Why a session ended, in words kept in the ledger's `sessions.reason` and summary.json `reason`:
 * the error code and message of a failure (`CIRCUIT_OPEN: ...`, `ENGINE_DOWN: ...`, `DISK: ...`),
 * or the signal that stopped it (`stopped by Ctrl-C`, and what was abandoned when a second signal
 * or the end of the grace period cut the rows in flight short). Null for a complete session.
 */
import { inspect } from "node:util";
import { isChainetteError } from "../errors.js";
import type { RunStatus } from "../pipeline/events.js";

/** The longest reason kept: the message's first lines, enough to name the cause and a row. */
const MAX_REASON_CHARS = 1000;

export function sessionReason(status: RunStatus, failure: unknown, stop: { reason: string | undefined; abandoned: string | undefined }): string | null {
  if (status === "complete") return null;
  if (status === "stopped") {
    const by = `stopped by ${stop.reason ?? "a stop request"}`;
    return clip(stop.abandoned === undefined || stop.abandoned === stop.reason ? by : `${by}; rows in flight abandoned (${stop.abandoned})`);
  }
  if (isChainetteError(failure)) return clip(`${failure.code}: ${failure.message}`);
  if (failure instanceof Error) return clip(`crashed: ${failure.message}`);
  return failure === undefined ? null : clip(`crashed: ${inspect(failure)}`);
}

function clip(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS - 1)}…`;
}
