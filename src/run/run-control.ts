/**
 * How a run is asked to stop. `requestStop()` (first Ctrl-C, SIGTERM) stops reading and lets the
 * rows in flight finish for up to `graceMs`; `abort()` (a second Ctrl-C, or the grace running out)
 * cancels the requests in flight. Either way the sink commits what finished, and a resume redoes
 * the rest.
 */
import { setMaxListeners } from "node:events";

export class RunControl {
  private stopReason: string | undefined;
  private readonly controller = new AbortController();
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(private readonly graceMs = 30_000) {
    // Every request in flight listens to this one signal.
    setMaxListeners(0, this.controller.signal);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get stopRequested(): boolean {
    return this.stopReason !== undefined;
  }

  get reason(): string | undefined {
    return this.stopReason;
  }

  /** Returns false when a stop had already been asked (the caller may then abort). */
  requestStop(reason: string): boolean {
    if (this.stopReason !== undefined) return false;
    this.stopReason = reason;
    this.graceTimer = setTimeout(() => this.abort(`${reason}: grace period of ${this.graceMs} ms over`), this.graceMs);
    this.graceTimer.unref();
    return true;
  }

  abort(reason = "aborted"): void {
    this.stopReason ??= reason;
    clearTimeout(this.graceTimer);
    if (!this.controller.signal.aborted) this.controller.abort(new Error(reason));
  }

  dispose(): void {
    clearTimeout(this.graceTimer);
  }
}
