/**
 * How many requests one endpoint may have in flight, decided per endpoint and changed while a run
 * goes. Three policies: `QueueTargetConcurrency` (a vLLM server whose `/metrics` show its queue),
 * `AimdConcurrency` (any other server: back off on 429/503 and on latency growth) and
 * `FixedConcurrency` (adaptive concurrency turned off). The engine's `concurrency` is the ceiling
 * of every policy.
 */
import type { ServerLoad } from "./server-load.js";

export type ConcurrencyPolicyKind = "queue" | "aimd" | "fixed";

/** What one finished attempt tells a policy. */
export interface AttemptOutcome {
  /** The server said it is overloaded (429, 503). */
  overloaded: boolean;
  /** Milliseconds the successful attempt took; absent for failures. */
  latencyMs?: number;
  /** Requests still in flight on the endpoint (this one released). */
  inFlight: number;
}

export interface ConcurrencyPolicy {
  readonly kind: ConcurrencyPolicyKind;
  /** Requests the endpoint may have in flight now (1 or more, at most the ceiling). */
  readonly limit: number;
  /** Learns from one finished attempt. */
  onOutcome(outcome: AttemptOutcome, now: number): void;
  /** Learns from the server's load (policies that read `/metrics`). */
  onLoad?(load: ServerLoad, inFlight: number): void;
}

/** Adaptive concurrency off: always the ceiling. */
export class FixedConcurrency implements ConcurrencyPolicy {
  readonly kind = "fixed";
  readonly limit: number;

  constructor(ceiling: number) {
    this.limit = ceiling;
  }

  onOutcome(): void {
    // A fixed limit learns nothing.
  }
}

/** Requests in flight at the start, before any signal: enough to measure, few enough to be polite. */
export const initialConcurrency = 8;
