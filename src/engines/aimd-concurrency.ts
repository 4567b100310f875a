/**
 * Adaptive concurrency for servers that do not show their queue (OpenAI, Ollama, a generic
 * OpenAI-compatible server): additive increase, multiplicative decrease, as TCP does.
 *
 * - Slow start: from 8 in flight, +1 per success while the limit is what holds requests back
 *   (doubling every round of requests), until the first sign of overload.
 * - Then +1/limit per such success (+1 per round).
 * - A 429 or 503 halves the limit, at most once per round trip (the smoothed latency of recent
 *   successes; `cooldownMs` before any): the rejections of one burst are one signal.
 * - Latency growth: successes are taken in rounds of max(20, limit); when a round's median latency
 *   passes `latencyTolerance` x the lowest round median seen, the server is queueing our requests:
 *   x0.8, at most once per round. The tolerance is wide because a batching server's latency grows
 *   with its batch (a vLLM batch of 256 decodes each token about 3x slower than a batch of 1); a
 *   queue makes latency grow without bound, and that is what this catches.
 */
import { initialConcurrency, type AttemptOutcome, type ConcurrencyPolicy } from "./concurrency-policy.js";

export interface AimdOptions {
  /** The engine's `concurrency`: never more in flight. */
  ceiling: number;
  /** Round median over the lowest round median that counts as queueing. @default 3 */
  latencyTolerance?: number;
  /** Shortest interval between two halvings for 429/503 before any latency is known. @default 1000 */
  cooldownMs?: number;
  /** The limit to start from. @default min(ceiling, 8) */
  initial?: number;
}

export class AimdConcurrency implements ConcurrencyPolicy {
  readonly kind = "aimd";
  /** Fractional: additive increase adds 1/limit per success. */
  #limit: number;
  #slowStart = true;
  #lastDecreaseAt = Number.NEGATIVE_INFINITY;
  readonly #round: number[] = [];
  #baseline = Number.POSITIVE_INFINITY;
  readonly #ceiling: number;
  readonly #tolerance: number;
  #cooldownMs: number;
  /** Smoothed latency of successes (EWMA, weight 1/8 as TCP's SRTT), once one came. */
  #smoothedLatencyMs: number | undefined;

  constructor(options: AimdOptions) {
    this.#ceiling = options.ceiling;
    this.#tolerance = options.latencyTolerance ?? 3;
    this.#cooldownMs = options.cooldownMs ?? 1000;
    this.#limit = Math.max(1, Math.min(options.ceiling, options.initial ?? initialConcurrency));
  }

  get limit(): number {
    return Math.max(1, Math.floor(this.#limit));
  }

  onOutcome(outcome: AttemptOutcome, now: number): void {
    if (outcome.overloaded) {
      if (now - this.#lastDecreaseAt >= this.#cooldownMs) this.#decrease(0.5, now);
      return;
    }
    if (outcome.latencyMs === undefined) return;
    this.#smoothedLatencyMs = this.#smoothedLatencyMs === undefined ? outcome.latencyMs : this.#smoothedLatencyMs + (outcome.latencyMs - this.#smoothedLatencyMs) / 8;
    this.#cooldownMs = this.#smoothedLatencyMs;
    if (this.#latencyGrew(outcome.latencyMs)) {
      this.#decrease(0.8, now);
      return;
    }
    // Grow only when the limit is what holds requests back (the released attempt counts too).
    if (outcome.inFlight + 1 < this.limit) return;
    this.#limit = Math.min(this.#ceiling, this.#limit + (this.#slowStart ? 1 : 1 / this.#limit));
  }

  /** Adds a latency sample; at the end of a round, whether its median says the server queues. */
  #latencyGrew(latencyMs: number): boolean {
    this.#round.push(latencyMs);
    if (this.#round.length < Math.max(20, this.limit)) return false;
    const sorted = this.#round.sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? latencyMs;
    this.#round.length = 0;
    this.#baseline = Math.min(this.#baseline, median);
    return median > this.#baseline * this.#tolerance;
  }

  #decrease(factor: number, now: number): void {
    this.#slowStart = false;
    this.#lastDecreaseAt = now;
    this.#limit = Math.max(1, this.#limit * factor);
  }
}
