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

  /**
   * A signal for the work of one run: aborted with this control's signal, or by `end(reason)` when
   * the run is over (completed, failed, stopped for an error rate), so that nothing the run started
   * outlives it: a request whose row can no longer be committed is cancelled, not waited for.
   */
  runScope(): RunScope {
    const scope = new AbortController();
    setMaxListeners(0, scope.signal);
    const forward = (): void => scope.abort(this.controller.signal.reason);
    if (this.controller.signal.aborted) forward();
    else this.controller.signal.addEventListener("abort", forward, { once: true });
    return {
      signal: scope.signal,
      end: (reason: unknown) => {
        this.controller.signal.removeEventListener("abort", forward);
        if (!scope.signal.aborted) scope.abort(reason);
      },
    };
  }
}

/** The signal of one run's work, and how the run ends it. */
export interface RunScope {
  readonly signal: AbortSignal;
  /** Aborts whatever still listens to `signal` (the run is over); idempotent. */
  end(reason: unknown): void;
}
