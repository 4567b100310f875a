/**
 * The continuous-batching performance model. Up to `maxNumSeqs` requests run at once; the rest
 * wait in an unbounded FIFO queue, as in vLLM. A running request first prefills (time-to-first-
 * token = overhead + per-prompt-token cost), then joins the decode batch: each engine step gives
 * every decoding request one token and lasts ITL(n) = interTokenLatencyMs +
 * interTokenLatencyPerRunningMs x (n - 1), n = requests running when the step starts.
 *
 * With prefix caching on, the prompt tokens of leading blocks computed recently skip prefill
 * (prefix-cache.ts). Under the `priority` scheduling policy the waiting queue is ordered by the
 * request's priority (lower first), arrival order among equals; running requests are not preempted.
 *
 * Time is a virtual model clock (real time x timeScale), advanced event by event whenever a timer
 * fires or a request arrives, so timer granularity never distorts the model at high time scales.
 */
import type { ResolvedPerformance } from "./options.js";
import { PrefixCache } from "./prefix-cache.js";

/** Model-clock timings of a finished request, in milliseconds. */
export interface JobTiming {
  queueMs: number;
  ttftMs: number;
  e2eMs: number;
}

export interface JobCallbacks {
  /** Called with the tokens generated so far whenever that number grows (for streaming). */
  onProgress?: (generated: number) => void;
  onDone: (timing: JobTiming) => void;
}

/** What the scheduler may use beyond the token counts. */
export interface JobTraits {
  /** vLLM's `priority` (lower is served first under the priority policy). @default 0 */
  priority?: number;
  /** The prompt's chained block hashes, for the prefix cache (`prefixBlocks`). */
  prefixBlocks?: readonly number[];
}

interface Job extends JobCallbacks {
  readonly promptTokens: number;
  readonly priority: number;
  readonly prefixBlocks: readonly number[];
  readonly outputTokens: number;
  readonly arrivedAt: number;
  admittedAt: number;
  prefillEndsAt: number;
  generated: number;
  reported: number;
  joinStep: number;
  cancelled: boolean;
}

/** A handle to abort a submitted request (the client went away). */
export interface JobHandle {
  cancel(): void;
}

export class Scheduler {
  readonly #model: ResolvedPerformance;
  readonly #origin = performance.now();
  readonly #waiting: Job[] = [];
  #waitingHead = 0;
  readonly #prefilling = new Set<Job>();
  readonly #decoding = new Set<Job>();
  #clock = 0;
  #stepEndsAt = Number.POSITIVE_INFINITY;
  #stepIndex = 0;
  #timer: NodeJS.Timeout | undefined;
  #finished: [Job, JobTiming][] = [];
  /** Present when prefix caching is on. */
  readonly prefixCache: PrefixCache | undefined;

  constructor(model: ResolvedPerformance) {
    this.#model = model;
    this.prefixCache = model.prefixCaching ? new PrefixCache(model.kvCacheTokens) : undefined;
  }

  /** Requests running now (prefilling or decoding). */
  get running(): number {
    return this.#prefilling.size + this.#decoding.size;
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /** KV-cache tokens held by running requests (prompt + generated). */
  kvTokensInUse(): number {
    let total = 0;
    for (const job of this.#prefilling) total += job.promptTokens;
    for (const job of this.#decoding) total += job.promptTokens + job.generated;
    return total;
  }

  /** Inter-token latency with `running` requests in the batch, in model milliseconds. */
  interTokenLatency(running: number): number {
    return this.#model.interTokenLatencyMs + this.#model.interTokenLatencyPerRunningMs * Math.max(0, running - 1);
  }

  /** Time to first token of a prompt once admitted, in model milliseconds. */
  timeToFirstToken(promptTokens: number): number {
    return this.#model.ttftOverheadMs + this.#model.prefillMsPerToken * promptTokens;
  }

  submit(promptTokens: number, outputTokens: number, callbacks: JobCallbacks, traits: JobTraits = {}): JobHandle {
    const tokens = Math.max(1, outputTokens);
    if (this.#model.timeScale === 0) {
      callbacks.onProgress?.(tokens);
      callbacks.onDone({ queueMs: 0, ttftMs: 0, e2eMs: 0 });
      return { cancel: () => undefined };
    }
    this.#advance(this.#now());
    const job: Job = {
      ...callbacks, promptTokens, outputTokens: tokens, arrivedAt: this.#clock, admittedAt: 0, prefillEndsAt: 0,
      generated: 0, reported: 0, joinStep: 0, cancelled: false,
      priority: traits.priority ?? 0, prefixBlocks: traits.prefixBlocks ?? [],
    };
    this.#enqueue(job);
    this.#admit();
    this.#wake();
    return { cancel: () => this.#cancel(job) };
  }

  /** Stops the timer; pending requests never finish (the server destroys their sockets). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #now(): number {
    return (performance.now() - this.#origin) * this.#model.timeScale;
  }

  #cancel(job: Job): void {
    if (job.cancelled) return;
    job.cancelled = true;
    if (this.#prefilling.delete(job) || this.#decoding.delete(job)) {
      this.#advance(this.#now());
      this.#admit();
      this.#wake();
    }
  }

  /** Appends `job` to the waiting queue; under the priority policy, after every job of equal or lower priority value. */
  #enqueue(job: Job): void {
    if (this.#model.schedulingPolicy !== "priority") {
      this.#waiting.push(job);
      return;
    }
    let low = this.#waitingHead;
    let high = this.#waiting.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#waiting[middle]?.priority ?? 0) <= job.priority) low = middle + 1;
      else high = middle;
    }
    this.#waiting.splice(low, 0, job);
  }

  #admit(): void {
    while (this.running < this.#model.maxNumSeqs && this.#waitingHead < this.#waiting.length) {
      const job = this.#waiting[this.#waitingHead++];
      if (job === undefined || job.cancelled) continue;
      job.admittedAt = this.#clock;
      const cached = this.prefixCache?.admit(job.prefixBlocks, job.promptTokens) ?? 0;
      job.prefillEndsAt = this.#clock + this.timeToFirstToken(job.promptTokens - cached);
      this.#prefilling.add(job);
    }
    if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
      this.#waiting.splice(0, this.#waitingHead);
      this.#waitingHead = 0;
    }
  }

  #finish(job: Job): void {
    this.#finished.push([job, { queueMs: job.admittedAt - job.arrivedAt, ttftMs: job.prefillEndsAt - job.arrivedAt, e2eMs: this.#clock - job.arrivedAt }]);
  }

  /** Processes every event up to model time `target`. */
  #advance(target: number): void {
    for (;;) {
      let prefillDone: Job | undefined;
      for (const job of this.#prefilling) if (prefillDone === undefined || job.prefillEndsAt < prefillDone.prefillEndsAt) prefillDone = job;
      const prefillAt = prefillDone?.prefillEndsAt ?? Number.POSITIVE_INFINITY;
      if (Math.min(prefillAt, this.#stepEndsAt) > target) break;
      if (prefillDone !== undefined && prefillAt < this.#stepEndsAt) {
        this.#clock = prefillAt;
        this.#prefilling.delete(prefillDone);
        prefillDone.generated = 1;
        if (prefillDone.outputTokens <= 1) {
          this.#finish(prefillDone);
          this.#admit();
        } else {
          prefillDone.joinStep = this.#stepIndex;
          this.#decoding.add(prefillDone);
        }
      } else {
        this.#clock = this.#stepEndsAt;
        this.#stepEndsAt = Number.POSITIVE_INFINITY;
        for (const job of this.#decoding) {
          if (job.joinStep >= this.#stepIndex) continue;
          job.generated++;
          if (job.generated >= job.outputTokens) {
            this.#decoding.delete(job);
            this.#finish(job);
          }
        }
        this.#admit();
      }
      if (this.#stepEndsAt === Number.POSITIVE_INFINITY && this.#decoding.size > 0) {
        this.#stepIndex++;
        this.#stepEndsAt = this.#clock + this.interTokenLatency(this.running);
      }
    }
    this.#clock = Math.max(this.#clock, target);
  }

  #wake(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const finished = this.#finished;
    this.#finished = [];
    for (const [job, timing] of finished) {
      if (job.reported < job.generated) job.onProgress?.(job.generated);
      job.onDone(timing);
    }
    for (const job of this.#decoding) {
      if (job.onProgress !== undefined && job.reported < job.generated) {
        job.reported = job.generated;
        job.onProgress(job.generated);
      }
    }
    let next = this.#stepEndsAt;
    for (const job of this.#prefilling) next = Math.min(next, job.prefillEndsAt);
    if (next === Number.POSITIVE_INFINITY) return;
    const delay = Math.max(0, (next - this.#now()) / this.#model.timeScale);
    this.#timer = setTimeout(() => {
      this.#advance(this.#now());
      this.#wake();
    }, delay);
  }
}
