/**
 * Counts, from the run's events, what the rows' own records do not hold: requests sent and retries
 * made since the last commit, and the input's size once known. The commit sink takes them into
 * each commit's rollup (see `ledger-rollups.ts`).
 */
import type { RunEvent } from "../pipeline/events.js";

export class RequestTally {
  private requests = 0;
  private retries = 0;
  /** The nodes that sent requests (steps): the run's latency in the rollups is theirs, not an apply's. */
  readonly requestNodes = new Set<string>();
  /** The input's row count, when the run knows it. */
  inputRows: number | undefined;

  readonly onEvent = (event: RunEvent): void => {
    if (event.type === "node-start") {
      this.requests++;
      this.requestNodes.add(event.node);
    }
    else if (event.type === "request-retry") this.retries++;
    else if (event.type === "run-start") this.inputRows = event.total;
    else if (event.type === "total") this.inputRows = event.total;
  };

  /** The counts since the last call, which start again from zero. */
  take(): { requests: number; retries: number } {
    const taken = { requests: this.requests, retries: this.retries };
    this.requests = 0;
    this.retries = 0;
    return taken;
  }
}
