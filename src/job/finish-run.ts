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
import { shellJoin } from "./shell-words.js";
import { buildSummary, REDACTED_NOTE } from "./summary.js";

export async function finishRun(run: OpenRun, options: RunJobOptions, outcome: SessionOutcome, session: { id: number; started: number; rows: number }): Promise<RunJobResult> {
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
  const summary = buildSummary(ledger, { chain: plan.name, status, complete: status === "complete", resumeCommand, resumeNote, sessionWallMs: wallMs, sessionRows: session.rows });
  // On a full disk these can fail too; the ledger already holds every commit, so report and go on.
  try {
    writeJsonAtomic(join(options.outDir, "summary.json"), summary);
    ledger.endSession(session.id, status, session.rows, wallMs);
  } catch (error) {
    failure ??= new ChainetteError("DISK", `cannot write summary.json or close the session: ${(error as Error).message}`, { cause: error });
  } finally {
    ledger.close();
  }
  options.events.emit({ type: "run-end", status });
  return failure === undefined ? { status, summary } : { status, summary, error: failure };
}
