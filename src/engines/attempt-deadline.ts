/**
 * How long one attempt of a chat request may take. An explicit `timeoutMs` is a fixed limit. Without
 * one the limit follows the server's observed latency, so a request the server never answers is
 * retried after a multiple of what answers usually take instead of after 10 minutes:
 *
 *   base  = ceilingMs                                      until `minSamples` attempts succeeded
 *   base  = clamp(multiplier x p99(latencies), floorMs, ceilingMs)              afterwards
 *   limit = min(ceilingMs, base x 2^t)      t = attempts of the same request that timed out before
 *
 * over the latencies of the last `window` successful attempts (whole attempts: queueing in the
 * server, headers and body). The doubling means a server that slowed down for good still gets
 * through (its answers then raise the p99) instead of timing out forever.
 *
 * Attempts in flight are re-armed when the base moves, so the first requests, sent before any
 * latency was known, are not held to the ceiling.
 */

export interface AdaptiveTimeoutOptions {
  /** Lowest limit: covers a cold start, the first compile of a schema, a slow spell. @default 10_000 */
  floorMs: number;
  /** Highest limit, and the limit until enough latencies are known: fits long generations. @default 600_000 */
  ceilingMs: number;
  /** Limit = this x p99 of recent successful attempts. @default 3 */
  multiplier: number;
  /** Successful attempts needed before the limit follows latency. @default 20 */
  minSamples: number;
  /** Recent successful attempts the p99 is taken over. @default 512 */
  window: number;
}

export const defaultAdaptiveTimeout: AdaptiveTimeoutOptions = {
  floorMs: 10_000,
  ceilingMs: 600_000,
  multiplier: 3,
  minSamples: 20,
  window: 512,
};

/** The base limit is recomputed every this many successes (a sort of `window` numbers each time). */
const recomputeEvery = 32;

/** One attempt in flight: fires `expire` once its limit has passed since `started`. */
export interface ArmedAttempt {
  /** The limit in force for this attempt, in milliseconds. */
  readonly limitMs: number;
  /** Stops the timer (the attempt ended). */
  disarm(): void;
}

interface Armed {
  started: number;
  priorTimeouts: number;
  limitMs: number;
  timer: NodeJS.Timeout | undefined;
  expire: (limitMs: number) => void;
}

export class AttemptDeadline {
  readonly #fixedMs: number | undefined;
  readonly #options: AdaptiveTimeoutOptions;
  readonly #latencies: Float64Array;
  readonly #armed = new Set<Armed>();
  #samples = 0;
  #baseMs: number;

  /** `fixedMs`: the engine's explicit `timeoutMs`, which keeps its meaning (no adaptation). */
  constructor(fixedMs: number | undefined, options: Partial<AdaptiveTimeoutOptions> = {}) {
    this.#fixedMs = fixedMs;
    this.#options = { ...defaultAdaptiveTimeout, ...options };
    const { floorMs, ceilingMs, multiplier, minSamples, window } = this.#options;
    if (!(floorMs >= 1 && ceilingMs >= floorMs && multiplier > 0 && minSamples >= 1 && window >= minSamples)) {
      throw new RangeError(`invalid adaptive timeout options ${JSON.stringify(this.#options)}`);
    }
    this.#latencies = new Float64Array(window);
    this.#baseMs = fixedMs ?? ceilingMs;
  }

  /** Whether the limit follows latency (no explicit `timeoutMs`). */
  get adaptive(): boolean {
    return this.#fixedMs === undefined;
  }

  /** The largest limit any attempt can get: for undici's own header and body timeouts. */
  get ceilingMs(): number {
    return this.#fixedMs ?? this.#options.ceilingMs;
  }

  /** The limit for an attempt after `priorTimeouts` timed-out attempts of the same request. */
  limitFor(priorTimeouts: number): number {
    if (this.#fixedMs !== undefined) return this.#fixedMs;
    return Math.min(this.#options.ceilingMs, this.#baseMs * 2 ** priorTimeouts);
  }

  /** Starts the clock of one attempt; `expire` is called (once) when its limit passes. */
  arm(priorTimeouts: number, expire: (limitMs: number) => void): ArmedAttempt {
    const armed: Armed = { started: performance.now(), priorTimeouts, limitMs: this.limitFor(priorTimeouts), timer: undefined, expire };
    this.#schedule(armed);
    this.#armed.add(armed);
    return {
      get limitMs() {
        return armed.limitMs;
      },
      disarm: () => {
        clearTimeout(armed.timer);
        this.#armed.delete(armed);
      },
    };
  }

  /** Records the latency of a successful attempt. */
  recordSuccess(latencyMs: number): void {
    if (this.#fixedMs !== undefined) return;
    const { window, minSamples } = this.#options;
    this.#latencies[this.#samples % window] = latencyMs;
    this.#samples += 1;
    if (this.#samples === minSamples || (this.#samples > minSamples && this.#samples % recomputeEvery === 0)) this.#recompute();
  }

  #recompute(): void {
    const { window, floorMs, ceilingMs, multiplier } = this.#options;
    const recent = this.#latencies.slice(0, Math.min(this.#samples, window)).sort();
    const p99 = recent[Math.min(recent.length - 1, Math.ceil(recent.length * 0.99) - 1)] ?? ceilingMs;
    const base = Math.min(ceilingMs, Math.max(floorMs, Math.ceil(multiplier * p99)));
    if (base === this.#baseMs) return;
    this.#baseMs = base;
    for (const armed of this.#armed) {
      const limitMs = this.limitFor(armed.priorTimeouts);
      if (limitMs === armed.limitMs) continue;
      clearTimeout(armed.timer);
      armed.limitMs = limitMs;
      this.#schedule(armed);
    }
  }

  #schedule(armed: Armed): void {
    const left = Math.max(0, armed.started + armed.limitMs - performance.now());
    armed.timer = setTimeout(() => {
      this.#armed.delete(armed);
      armed.expire(armed.limitMs);
    }, left);
  }
}
