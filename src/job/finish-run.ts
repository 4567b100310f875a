/**
 * Phase 4 of a durable run, however the session ended: seal what the ledger committed (Parquet),
 * write summary.json, close the session in the ledger and the ledger itself.
 */
import { join } from "node:path";
import { writeJsonAtomic } from "../durability/write-json-atomic.js";
import { ChainetteError } from "../errors.js";
import type { SessionOutcome } from "./execute-run.js";
import type { OpenRun } from "./open-run.js";
import type { RunJobOptions, RunJobResult } from "./run-job.js";
import { sessionReason } from "./session-reason.js";
import { shellJoin } from "./shell-words.js";
import { buildSummary, REDACTED_NOTE } from "./summary.js";

/** This session, as `runJob` follows it. */
export interface SessionProgress {
  id: number;
  started: number;
  /** Root rows committed in this session. */
  rows: number;
  /** The input's row count (after `--limit`), when the source or the background count gave it. */
  inputRows: number | undefined;
}

/** @param reason why the session did not complete (`sessionReason`), kept in the ledger and summary.json */
export async function finishRun(run: OpenRun, options: RunJobOptions, outcome: SessionOutcome, session: SessionProgress, reason: string | null): Promise<RunJobResult> {
  const { ledger, plan } = run;
  let { status, failure } = outcome;
  // Parquet: whatever the ledger committed is sealed, whether the run completed, stopped or failed.
  try {
    await outcome.sink?.sealOpenShards();
  } catch (error) {
    if (failure === undefined) {
      failure = error;
      status = "failed";
    }
  }
  const wallMs = performance.now() - session.started;
  const resumeCommand = shellJoin(run.invocation.filter((part) => part !== "--fresh"));
  const resumeNote = run.redacted ? REDACTED_NOTE : undefined;
  // Sealing can fail a session that had completed: its reason is that failure.
  const why = reason ?? sessionReason(status, failure, { reason: undefined, abandoned: undefined });
  const summary = buildSummary(ledger, { chain: plan.name, status, complete: status === "complete", reason: why, inputRows: session.inputRows, resumeCommand, resumeNote, sessionWallMs: wallMs, sessionRows: session.rows });
  // On a full disk these can fail too; the ledger already holds every commit, so report and go on.
  try {
    writeJsonAtomic(join(options.outDir, "summary.json"), summary);
    ledger.endSession(session.id, status, session.rows, wallMs, why);
  } catch (error) {
    failure ??= new ChainetteError("DISK", `cannot write summary.json or close the session: ${(error as Error).message}`, { cause: error });
  } finally {
    ledger.close();
  }
  options.events.emit({ type: "run-end", status });
  return failure === undefined ? { status, summary } : { status, summary, error: failure };
}
