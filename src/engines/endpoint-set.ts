/**
 * The endpoints of one engine: an undici `Pool` each, a concurrency limit each (adaptive by default:
 * `QueueTargetConcurrency` from a vLLM server's `/metrics`, `AimdConcurrency` otherwise), selection
 * among the healthy ones with a free slot (the least loaded relative to its limit, or the one a
 * request's prefix prefers, see `#pick`), and health tracking. While every healthy endpoint is at
 * its limit, `acquire` waits for a slot; a freed slot goes first to a waiter that prefers its
 * endpoint. Since each endpoint's limit follows what its server can take, work is spread in
 * proportion to capacity.
 *
 * Health: An endpoint is marked down when it has really stopped answering: it refused a connection
 * (nothing listens), or every one of its last N attempts failed, N = max(`failureThreshold`,
 * requests still in flight on it): a 100% failure rate over at least as many attempts as could
 * still prove it alive. When the attempt that completes such a streak got an answer (a 5xx), the
 * server is alive enough to speak HTTP, so its health path decides: it is probed at once, and the
 * endpoint goes down only if the probe fails too (vLLM's `/health` answers 500/503 once its engine
 * died); otherwise the streak starts over and the 5xx stay the retry loop's business. Until the
 * verdict the endpoint gets no new work. Sporadic 5xx
 * are not an outage: a 500 comes back in milliseconds while a generation takes seconds, so under
 * high concurrency a few of them complete back to back while hundreds of requests are being answered.
 * A down endpoint is probed until it answers its probe path with a status below 500. While every
 * endpoint is down, `acquire` waits; past `engineDownTimeoutMs` the waiters reject with `ENGINE_DOWN`.
 */
import type { Pool } from "undici";
import { undici } from "../load-on-demand.js";
import { ChainetteError } from "../errors.js";
import { AimdConcurrency } from "./aimd-concurrency.js";
import { FixedConcurrency, type ConcurrencyPolicy } from "./concurrency-policy.js";
import type { EndpointState, EngineEvent } from "./engine.js";
import { displayUrl } from "./display-url.js";
import { QueueTargetConcurrency } from "./queue-target-concurrency.js";
import { parseServerLoad } from "./server-load.js";

export interface ConcurrencyOptions {
  /** The engine's `concurrency`: the most requests in flight to one endpoint. */
  ceiling: number;
  /** Adapt the limit to each server's load; `false`: always the ceiling. @default true */
  adaptive: boolean;
  /** Ask each endpoint for vLLM's `/metrics` (vllm_api, openai_compatible); otherwise AIMD only. */
  readMetrics: boolean;
  /** At most this share (0-1] of a vLLM server's slots (known from `/metrics`). @default 1 */
  maxShare?: number | undefined;
  /** Milliseconds between two readings of `/metrics`. @default 300 */
  metricsIntervalMs?: number;
  /** Requests that share a prefix prefer one endpoint (where load allows). @default true */
  prefixAffinity?: boolean;
}

export interface EndpointSetOptions {
  /** The engine's name, for events and messages. */
  engine: string;
  /** Base URLs (`http://host:8000/v1`). */
  urls: readonly string[];
  /** The path probed on a down endpoint, from its base URL (`/health`, `/v1/models`, `/api/tags`). */
  probePath: (baseUrl: URL) => string;
  /** Headers sent with probes (the Authorization header, when the engine has a key). */
  probeHeaders: Record<string, string>;
  /** Keep-alive connections per endpoint. */
  connections: number;
  /** Limits in flight per endpoint. @default fixed at `connections` */
  concurrency?: ConcurrencyOptions;
  /** Consecutive transport failures that mark an endpoint down, at least (see above). @default 3 */
  failureThreshold?: number;
  /** Milliseconds between probes of a down endpoint. @default 1000 */
  probeIntervalMs?: number;
  /** How long calls wait while every endpoint is down before they reject. @default 300_000 */
  engineDownTimeoutMs?: number;
  /** Largest reply body accepted (undici's `maxResponseSize`); past it the attempt fails. @default unlimited */
  maxResponseBytes?: number;
  onEvent?: ((event: EngineEvent) => void) | undefined;
}

export class Endpoint {
  readonly url: string;
  readonly base: URL;
  readonly pool: Pool;
  inFlight = 0;
  consecutiveFailures = 0;
  up = true;
  probeTimer: NodeJS.Timeout | undefined;
  /** Decides `limit`; replaced once `/metrics` proves the server is vLLM. */
  policy: ConcurrencyPolicy;
  /** The limit last reported in a `concurrency-limit` event, and when. */
  reportedLimit = 0;
  reportedAt = Number.NEGATIVE_INFINITY;
  metricsTimer: NodeJS.Timeout | undefined;
  /** A connection of its own for `/metrics` and health probes, so they never queue behind chat requests. */
  controlConnection: Pool | undefined;
  /** Whether `/metrics` has been asked once. */
  metricsAsked = false;
  /** A health probe after a streak of 5xx is under way: the endpoint gets no work until its verdict. */
  healthCheck: Promise<void> | undefined;

  constructor(url: string, connections: number, policy: ConcurrencyPolicy, maxResponseBytes?: number) {
    this.policy = policy;
    this.url = url.replace(/\/+$/, "");
    this.base = new URL(this.url);
    this.pool = new (undici().Pool)(this.base.origin, {
      connections,
      pipelining: 1,
      ...(maxResponseBytes === undefined ? {} : { maxResponseSize: maxResponseBytes }),
    });
  }

  /** The pool of `/metrics` readings and health probes (one connection, opened on first use). */
  controlPool(): Pool {
    this.controlConnection ??= new (undici().Pool)(this.base.origin, { connections: 1, pipelining: 1 });
    return this.controlConnection;
  }

  /** Requests this endpoint may have in flight now. */
  get limit(): number {
    return this.policy.limit;
  }

  /** The request path for `suffix` under this endpoint's base path. */
  path(suffix: string): string {
    return `${this.base.pathname.replace(/\/+$/, "")}${suffix}`;
  }
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
  /** The request's prefix hash, when prefix affinity is on. */
  affinity: number | undefined;
}

/** What one finished attempt says about its endpoint's load. */
export interface ReleaseOutcome {
  /** The server answered 429 or 503. */
  overloaded: boolean;
  /** Milliseconds a successful attempt took. */
  latencyMs?: number;
}

/** How many waiters a freed slot looks through for one that prefers its endpoint. */
const affinityLookahead = 64;
/** How much fuller (in share of its limit) a preferred endpoint may be than the least loaded one. */
const affinitySlack = 0.25;

export class EndpointSet {
  readonly endpoints: readonly Endpoint[];
  readonly #options: EndpointSetOptions;
  readonly #failureThreshold: number;
  readonly #probeIntervalMs: number;
  readonly #engineDownTimeoutMs: number;
  readonly #waiters = new Set<Waiter>();
  #downTimer: NodeJS.Timeout | undefined;
  #downReported = false;
  #deadError: ChainetteError | undefined;
  #nextStart = 0;
  #closed = false;
  readonly #concurrency: ConcurrencyOptions;

  constructor(options: EndpointSetOptions) {
    this.#options = options;
    this.#failureThreshold = options.failureThreshold ?? 3;
    this.#probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.#engineDownTimeoutMs = options.engineDownTimeoutMs ?? 300_000;
    this.#concurrency = options.concurrency ?? { ceiling: options.connections, adaptive: false, readMetrics: false };
    const { ceiling, adaptive } = this.#concurrency;
    this.endpoints = options.urls.map(
      (url) => new Endpoint(url, options.connections, adaptive ? new AimdConcurrency({ ceiling }) : new FixedConcurrency(ceiling), options.maxResponseBytes),
    );
    for (const endpoint of this.endpoints) {
      endpoint.reportedLimit = endpoint.limit;
      if (adaptive && this.#concurrency.readMetrics) this.#scheduleMetrics(endpoint, 0);
    }
  }

  /**
   * A healthy endpoint with a free slot (see `#pick`); waits while every healthy one is at its
   * limit, or while none is up. `affinity`: a hash of the request's prefix.
   */
  async acquire(signal?: AbortSignal, affinity?: number): Promise<Endpoint> {
    const key = this.#concurrency.prefixAffinity === false ? undefined : affinity;
    for (;;) {
      signal?.throwIfAborted();
      if (this.#closed) throw new ChainetteError("ABORTED", `Engine \`${this.#options.engine}\` was closed`);
      const endpoint = this.#pick(key);
      if (endpoint !== undefined) {
        endpoint.inFlight += 1;
        return endpoint;
      }
      if (this.#deadError !== undefined) throw this.#deadError;
      await this.#wait(signal, key);
    }
  }

  /** Each endpoint's health and limit now. */
  states(): EndpointState[] {
    return this.endpoints.map((endpoint) => ({ endpoint: displayUrl(endpoint.url), up: endpoint.up, limit: endpoint.limit, policy: endpoint.policy.kind }));
  }

  /** Calls waiting for a slot (every healthy endpoint at its limit) or for an endpoint to come up. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Frees the attempt's slot and tells the endpoint's policy how the attempt went. */
  release(endpoint: Endpoint, outcome: ReleaseOutcome = { overloaded: false }): void {
    endpoint.inFlight -= 1;
    const before = endpoint.limit;
    endpoint.policy.onOutcome({ ...outcome, inFlight: endpoint.inFlight }, performance.now());
    this.#limitChanged(endpoint, before);
    this.#wakeFor(endpoint);
  }

  /** Records an answer that says the endpoint works (a 2xx, or a 4xx: the request's own fault). */
  reportSuccess(endpoint: Endpoint): void {
    endpoint.consecutiveFailures = 0;
  }

  /**
   * Records a failure that may be the endpoint's; returns whether the endpoint is down now.
   * `kind`: `refused` (nothing listens) marks it down at once; `silent` (a reset, a timeout: no
   * answer) counts toward the streak that marks it down; `answered` (a 500/502/503/504) counts too,
   * but the streak it completes only asks the health path, which has the last word (see above).
   */
  reportTransportFailure(endpoint: Endpoint, reason: string, kind: "refused" | "silent" | "answered"): boolean {
    if (!endpoint.up) return true;
    endpoint.consecutiveFailures += 1;
    // The attempt that failed was released already: `inFlight` counts the others, any of which may
    // still come back with an answer.
    const outage = endpoint.consecutiveFailures >= Math.max(this.#failureThreshold, endpoint.inFlight);
    if (kind === "refused") return this.#markDown(endpoint, reason);
    if (!outage || endpoint.healthCheck !== undefined) return false;
    if (kind === "silent") return this.#markDown(endpoint, reason);
    endpoint.healthCheck = this.#probe(endpoint)
      .catch(() => false)
      .then((healthy) => {
        endpoint.healthCheck = undefined;
        if (this.#closed || !endpoint.up) return;
        if (!healthy) {
          this.#markDown(endpoint, `${reason}; its health check failed too`);
          return;
        }
        endpoint.consecutiveFailures = 0;
        this.#wake(endpoint.limit - endpoint.inFlight);
      });
    return false;
  }

  #markDown(endpoint: Endpoint, reason: string): true {
    endpoint.up = false;
    this.#emit({ type: "endpoint-down", engine: this.#options.engine, endpoint: displayUrl(endpoint.url), reason });
    this.#scheduleProbe(endpoint);
    if (this.endpoints.every((candidate) => !candidate.up)) this.#engineWentDown(reason);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#downTimer);
    const closing = new ChainetteError("ABORTED", `Engine \`${this.#options.engine}\` was closed`);
    for (const waiter of this.#waiters) waiter.reject(closing);
    this.#waiters.clear();
    for (const endpoint of this.endpoints) {
      clearTimeout(endpoint.probeTimer);
      clearTimeout(endpoint.metricsTimer);
    }
    await Promise.all(this.endpoints.flatMap((endpoint) => [endpoint.pool.close(), ...(endpoint.controlConnection === undefined ? [] : [endpoint.controlConnection.close()])]));
  }

  /**
   * Among healthy endpoints with a free slot: the one the prefix prefers, unless it is fuller than
   * the least loaded by more than `affinitySlack` of its limit; otherwise the least loaded relative
   * to its limit (ties rotate).
   */
  #pick(affinity: number | undefined): Endpoint | undefined {
    let best: Endpoint | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    const count = this.endpoints.length;
    for (let offset = 0; offset < count; offset += 1) {
      const candidate = this.endpoints[(this.#nextStart + offset) % count];
      // An endpoint whose health is being asked (after a streak of 5xx) gets no work until the verdict.
      if (candidate === undefined || !candidate.up || candidate.healthCheck !== undefined || candidate.inFlight >= candidate.limit) continue;
      const load = candidate.inFlight / candidate.limit;
      if (load < bestLoad) {
        best = candidate;
        bestLoad = load;
      }
    }
    this.#nextStart = (this.#nextStart + 1) % Math.max(1, count);
    if (best === undefined || affinity === undefined || count === 1) return best;
    const preferred = this.#preferred(affinity);
    if (preferred !== undefined && preferred.healthCheck === undefined && preferred.inFlight < preferred.limit && preferred.inFlight / preferred.limit <= bestLoad + affinitySlack) return preferred;
    return best;
  }

  /**
   * The healthy endpoint a prefix hash maps to: weighted rendezvous hashing, the weight being each
   * endpoint's limit, so a faster server is preferred by proportionally more prefixes and a prefix
   * keeps its endpoint while the set of healthy endpoints stays the same.
   */
  #preferred(affinity: number): Endpoint | undefined {
    let chosen: Endpoint | undefined;
    let top = Number.NEGATIVE_INFINITY;
    this.endpoints.forEach((endpoint, index) => {
      if (!endpoint.up) return;
      const unit = (mix32(affinity ^ Math.imul(index + 1, 0x9e3779b1)) + 0.5) / 4_294_967_296;
      const score = -endpoint.limit / Math.log(unit);
      if (score > top) {
        top = score;
        chosen = endpoint;
      }
    });
    return chosen;
  }

  /** Wakes one waiter for a slot freed on `endpoint`: the first (of a few) that prefers it, or the first. */
  #wakeFor(endpoint: Endpoint): void {
    if (this.#waiters.size === 0 || endpoint.inFlight >= endpoint.limit || !endpoint.up || endpoint.healthCheck !== undefined) return;
    let chosen: Waiter | undefined;
    let looked = 0;
    for (const waiter of this.#waiters) {
      chosen ??= waiter;
      if (waiter.affinity !== undefined && this.endpoints.length > 1 && this.#preferred(waiter.affinity) === endpoint) {
        chosen = waiter;
        break;
      }
      if (++looked >= affinityLookahead) break;
    }
    if (chosen === undefined) return;
    this.#waiters.delete(chosen);
    chosen.resolve();
  }

  /** Wakes the first `count` waiters (slots opened, or an endpoint came up). */
  #wake(count: number): void {
    for (const waiter of this.#waiters) {
      if (count-- <= 0) break;
      this.#waiters.delete(waiter);
      waiter.resolve();
    }
  }

  /** After a policy update: wakes waiters for the new slots, and reports the limit. */
  #limitChanged(endpoint: Endpoint, before: number): void {
    const after = endpoint.limit;
    if (after === before) return;
    if (after > before) this.#wake(after - before);
    this.#reportLimit(endpoint, false);
  }

  /**
   * Emits `concurrency-limit` when the limit moved: at once for a change of a quarter or more, at
   * most once a second for smaller ones (the JSON logs of an overnight run stay readable).
   */
  #reportLimit(endpoint: Endpoint, force: boolean): void {
    const limit = endpoint.limit;
    const now = performance.now();
    const change = Math.abs(limit - endpoint.reportedLimit);
    if (!force && (change === 0 || (change < endpoint.reportedLimit / 4 && now - endpoint.reportedAt < 1000))) return;
    endpoint.reportedLimit = limit;
    endpoint.reportedAt = now;
    const slots = endpoint.policy instanceof QueueTargetConcurrency && endpoint.policy.slots > 0 ? { slots: endpoint.policy.slots } : {};
    this.#emit({ type: "concurrency-limit", engine: this.#options.engine, endpoint: displayUrl(endpoint.url), limit, policy: endpoint.policy.kind, ...slots });
  }

  #scheduleMetrics(endpoint: Endpoint, delayMs: number): void {
    if (this.#closed) return;
    endpoint.metricsTimer = setTimeout(() => {
      void this.#readMetrics(endpoint).then((again) => {
        // Slow start (the server never seen full yet) reads three times as often, to ramp up fast.
        const interval = this.#concurrency.metricsIntervalMs ?? 300;
        const ramping = endpoint.policy instanceof QueueTargetConcurrency && !endpoint.policy.slotsKnown;
        if (again) this.#scheduleMetrics(endpoint, ramping ? Math.ceil(interval / 3) : interval);
      });
    }, delayMs);
    endpoint.metricsTimer.unref();
  }

  /**
   * One reading of the endpoint's `/metrics`; returns whether to read again. The first vLLM page
   * switches the endpoint to `QueueTargetConcurrency`; a server without one (404, or no vLLM
   * gauges) keeps AIMD and is not asked again. After the first, readings are skipped while the
   * endpoint is idle.
   */
  async #readMetrics(endpoint: Endpoint): Promise<boolean> {
    const isQueue = endpoint.policy instanceof QueueTargetConcurrency;
    // The first reading is taken at once (the policy is known before the first request); later
    // ones only while the engine has work.
    if (endpoint.metricsAsked && endpoint.inFlight === 0 && this.#waiters.size === 0) return true;
    endpoint.metricsAsked = true;
    const timeout = 2000;
    let text: string;
    let status: number;
    try {
      const response = await endpoint.controlPool().request({
        method: "GET",
        path: `${endpoint.base.pathname.replace(/\/+$/, "").replace(/\/v1$/, "")}/metrics`,
        headers: this.#options.probeHeaders,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch {
      return !this.#closed; // not answering now (starting, down): the health logic handles that
    }
    if (this.#closed) return false;
    const load = status === 200 ? parseServerLoad(text) : undefined;
    if (load === undefined) return isQueue && status >= 500; // not vLLM: AIMD for good
    if (!isQueue) {
      endpoint.policy = new QueueTargetConcurrency({ ceiling: this.#concurrency.ceiling, maxShare: this.#concurrency.maxShare, initial: endpoint.limit });
    }
    const before = endpoint.limit;
    endpoint.policy.onLoad?.(load, endpoint.inFlight);
    this.#limitChanged(endpoint, before);
    if (!isQueue) this.#reportLimit(endpoint, true);
    return true;
  }

  #wait(signal: AbortSignal | undefined, affinity: number | undefined): Promise<void> {
    return new Promise<void>((resolve, reject: (error: Error) => void) => {
      const onAbort = (): void => {
        this.#waiters.delete(waiter);
        const reason: unknown = signal?.reason;
        reject(reason instanceof Error ? reason : new Error(String(reason)));
      };
      const waiter: Waiter = {
        affinity,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      // Someone waits now: the probes and the deadline must keep the process alive.
      this.#downTimer?.ref();
      for (const endpoint of this.endpoints) endpoint.probeTimer?.ref();
    });
  }

  #engineWentDown(reason: string): void {
    if (this.#downReported) return;
    this.#downReported = true;
    this.#emit({ type: "engine-down", engine: this.#options.engine, reason });
    this.#downTimer = setTimeout(() => {
      const seconds = Math.round(this.#engineDownTimeoutMs / 1000);
      this.#deadError = new ChainetteError(
        "ENGINE_DOWN",
        `Every endpoint of engine \`${this.#options.engine}\` stayed down for ${seconds} s ` +
          `(engineDownTimeoutMs ${this.#engineDownTimeoutMs}); last failure: ${reason}`,
      );
      for (const waiter of this.#waiters) waiter.reject(this.#deadError);
      this.#waiters.clear();
    }, this.#engineDownTimeoutMs);
    if (this.#waiters.size === 0) this.#downTimer.unref();
  }

  #endpointCameUp(endpoint: Endpoint): void {
    endpoint.up = true;
    endpoint.consecutiveFailures = 0;
    this.#emit({ type: "endpoint-up", engine: this.#options.engine, endpoint: displayUrl(endpoint.url) });
    if (this.#downReported) {
      this.#downReported = false;
      this.#deadError = undefined;
      clearTimeout(this.#downTimer);
      this.#emit({ type: "engine-up", engine: this.#options.engine });
    }
    this.#wake(this.#waiters.size);
  }

  #scheduleProbe(endpoint: Endpoint): void {
    if (this.#closed) return;
    endpoint.probeTimer = setTimeout(() => {
      this.#probe(endpoint).then(
        (answered) => (answered ? this.#endpointCameUp(endpoint) : this.#scheduleProbe(endpoint)),
        () => this.#scheduleProbe(endpoint),
      );
    }, this.#probeIntervalMs);
    // With nobody waiting, a down endpoint must not keep the process alive on its own.
    if (this.#waiters.size === 0) endpoint.probeTimer.unref();
  }

  /** Whether the endpoint answers its probe path with any status below 500. */
  async #probe(endpoint: Endpoint): Promise<boolean> {
    if (this.#closed) return false;
    const timeout = Math.max(1000, Math.min(10_000, this.#probeIntervalMs * 5));
    const response = await endpoint.controlPool().request({
      method: "GET",
      path: this.#options.probePath(endpoint.base),
      headers: this.#options.probeHeaders,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    await response.body.dump();
    return !this.#closed && response.statusCode < 500;
  }

  #emit(event: EngineEvent): void {
    this.#options.onEvent?.(event);
  }
}

/** A 32-bit integer finalizer (murmur3's fmix32): spreads the bits of a prefix hash per endpoint. */
function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
