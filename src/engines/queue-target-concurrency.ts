/**
 * Adaptive concurrency for a vLLM server, from its own queue (`/metrics`, polled every few hundred
 * milliseconds): keep the server's waiting queue short but never empty, so every slot is busy the
 * moment one frees and no request of ours (or of anyone sharing the server) sits in a long queue.
 *
 * Target: `waiting` within [1, slots/4] (slots = the most requests seen running). Each reading:
 * - waiting above the band: our requests in flight minus the excess over slots/8 (our share of
 *   it, by our part of the server's requests, when other clients load it too); since our in-flight
 *   count minus the server's queue is what runs, this sets the limit to about `running + slots/8`
 *   at once, without waiting for the queue to drain (a limit cut step by step would keep cutting
 *   while the old queue drains, and collapse);
 * - waiting 0 while we use our whole limit: grow, by the free slots plus slots/8 once the slot
 *   count is known, doubling before (slow start); never while the KV cache is nearly full (vLLM
 *   would preempt);
 * - inside the band: hold.
 * A 429 or 503 halves the limit. The limit stays within [max(1, slots/16), ceiling]; with
 * `maxShare` also at most that share of the slots (a good neighbour on a shared server).
 */
import { initialConcurrency, type AttemptOutcome, type ConcurrencyPolicy } from "./concurrency-policy.js";
import type { ServerLoad } from "./server-load.js";

export interface QueueTargetOptions {
  /** The engine's `concurrency`: never more in flight. */
  ceiling: number;
  /** At most this share (0-1] of the server's slots. @default 1 */
  maxShare?: number | undefined;
  /** The limit to start from. @default min(ceiling, 8) */
  initial?: number;
}

/** KV-cache use above which the limit does not grow. */
const kvCacheFull = 0.95;

export class QueueTargetConcurrency implements ConcurrencyPolicy {
  readonly kind = "queue";
  #limit: number;
  /** The most requests seen running: vLLM's `max_num_seqs` (or its KV-cache bound) once it was full. */
  #slots = 0;
  /** Whether the server has been seen with a queue, so `#slots` is its capacity, not just its load. */
  #slotsKnown = false;
  readonly #ceiling: number;
  readonly #maxShare: number;

  constructor(options: QueueTargetOptions) {
    this.#ceiling = options.ceiling;
    this.#maxShare = options.maxShare ?? 1;
    this.#limit = Math.max(1, Math.min(options.ceiling, options.initial ?? initialConcurrency));
  }

  get limit(): number {
    return this.#limit;
  }

  /** The server's slot count as far as seen (0 before any reading). */
  get slots(): number {
    return this.#slots;
  }

  /** Whether the server has been seen full (with a queue), so `slots` is its capacity. */
  get slotsKnown(): boolean {
    return this.#slotsKnown;
  }

  onOutcome(outcome: AttemptOutcome): void {
    if (outcome.overloaded) this.#set(Math.floor(this.#limit / 2));
  }

  onLoad(load: ServerLoad, inFlight: number): void {
    this.#slots = Math.max(this.#slots, load.running);
    if (load.waiting > 0) this.#slotsKnown = true;
    const slots = Math.max(1, this.#slots);
    const high = Math.max(1, Math.floor(slots / 4));
    const middle = Math.max(1, Math.round(slots / 8));
    if (load.waiting > high) {
      // Our share of the excess: when other clients (another run, another engine on the same
      // server) fill the queue too, each cuts its part instead of all of them cutting the whole.
      const share = Math.min(1, inFlight / Math.max(1, load.running + load.waiting));
      this.#set(inFlight - Math.ceil((load.waiting - middle) * share));
      return;
    }
    const usingAll = inFlight >= this.#limit - Math.max(1, Math.floor(this.#limit / 16));
    const kvFull = load.kvCacheUsage !== undefined && load.kvCacheUsage >= kvCacheFull;
    if (load.waiting === 0 && usingAll && !kvFull) {
      const growth = this.#slotsKnown ? Math.max(0, this.#slots - load.running) + middle : this.#limit;
      this.#set(this.#limit + growth);
    }
  }

  #set(limit: number): void {
    const share = this.#slotsKnown && this.#maxShare < 1 ? Math.max(1, Math.floor(this.#slots * this.#maxShare)) : Number.POSITIVE_INFINITY;
    const floor = this.#slotsKnown ? Math.max(1, Math.ceil(this.#slots / 16)) : 1;
    const ceiling = Math.max(1, Math.min(this.#ceiling, share));
    this.#limit = Math.max(Math.min(floor, ceiling), Math.min(ceiling, Math.round(limit)));
  }
}
