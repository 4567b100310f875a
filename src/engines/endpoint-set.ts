/**
 * The endpoints of one engine: an undici `Pool` each, least-in-flight selection among the healthy
 * ones, and health tracking. An endpoint is marked down when it has really stopped answering: it
 * refused a connection (nothing listens), or every one of its last N attempts failed with a
 * transport error or a 5xx, N = max(`failureThreshold`, requests still in flight on it): a 100%
 * failure rate over at least as many attempts as could still prove it alive. Sporadic 5xx are the
 * retry loop's business, not an outage: a 500 comes back in milliseconds while a generation takes
 * seconds, so under high concurrency a few of them complete back to back (at the start of a run,
 * before any success) while hundreds of requests are still being answered.
 * A down endpoint is probed until it answers its probe path with a status below 500. While every
 * endpoint is down, `acquire` waits; past `engineDownTimeoutMs` the waiters reject with `ENGINE_DOWN`.
 */
import type { Pool } from "undici";
import { undici } from "../load-on-demand.js";
import { ChainetteError } from "../errors.js";
import type { EngineEvent } from "./engine.js";
import { displayUrl } from "./display-url.js";

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

  constructor(url: string, connections: number, maxResponseBytes?: number) {
    this.url = url.replace(/\/+$/, "");
    this.base = new URL(this.url);
    this.pool = new (undici().Pool)(this.base.origin, {
      connections,
      pipelining: 1,
      ...(maxResponseBytes === undefined ? {} : { maxResponseSize: maxResponseBytes }),
    });
  }

  /** The request path for `suffix` under this endpoint's base path. */
  path(suffix: string): string {
    return `${this.base.pathname.replace(/\/+$/, "")}${suffix}`;
  }
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

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

  constructor(options: EndpointSetOptions) {
    this.#options = options;
    this.#failureThreshold = options.failureThreshold ?? 3;
    this.#probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.#engineDownTimeoutMs = options.engineDownTimeoutMs ?? 300_000;
    this.endpoints = options.urls.map((url) => new Endpoint(url, options.connections, options.maxResponseBytes));
  }

  /** The healthy endpoint with the fewest requests in flight (ties rotate); waits while none is up. */
  async acquire(signal?: AbortSignal): Promise<Endpoint> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.#closed) throw new ChainetteError("ABORTED", `Engine \`${this.#options.engine}\` was closed`);
      const endpoint = this.#pick();
      if (endpoint !== undefined) {
        endpoint.inFlight += 1;
        return endpoint;
      }
      if (this.#deadError !== undefined) throw this.#deadError;
      await this.#waitForUp(signal);
    }
  }

  release(endpoint: Endpoint): void {
    endpoint.inFlight -= 1;
  }

  /** Records an answer that says the endpoint works (a 2xx, or a 4xx: the request's own fault). */
  reportSuccess(endpoint: Endpoint): void {
    endpoint.consecutiveFailures = 0;
  }

  /**
   * Records a failure that may be the endpoint's (no response, or 500/502/503/504); returns whether
   * the endpoint is down now. `immediate` marks it down at once (connection refused: nothing listens).
   */
  reportTransportFailure(endpoint: Endpoint, reason: string, immediate = false): boolean {
    if (!endpoint.up) return true;
    endpoint.consecutiveFailures += 1;
    // The attempt that failed was released already: `inFlight` counts the others, any of which may
    // still come back with an answer.
    const outage = endpoint.consecutiveFailures >= Math.max(this.#failureThreshold, endpoint.inFlight);
    if (!immediate && !outage) return false;
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
    for (const endpoint of this.endpoints) clearTimeout(endpoint.probeTimer);
    await Promise.all(this.endpoints.map((endpoint) => endpoint.pool.close()));
  }

  #pick(): Endpoint | undefined {
    let best: Endpoint | undefined;
    const count = this.endpoints.length;
    for (let offset = 0; offset < count; offset += 1) {
      const candidate = this.endpoints[(this.#nextStart + offset) % count];
      if (candidate?.up === true && (best === undefined || candidate.inFlight < best.inFlight)) best = candidate;
    }
    this.#nextStart = (this.#nextStart + 1) % Math.max(1, count);
    return best;
  }

  #waitForUp(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject: (error: Error) => void) => {
      const onAbort = (): void => {
        this.#waiters.delete(waiter);
        const reason: unknown = signal?.reason;
        reject(reason instanceof Error ? reason : new Error(String(reason)));
      };
      const waiter: Waiter = {
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
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters.clear();
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
    const response = await endpoint.pool.request({
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
