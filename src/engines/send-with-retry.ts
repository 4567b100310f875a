/**
 * One POST with transport retries across an engine's endpoints. Retries retryable statuses and
 * connection errors/timeouts with the policy of `retry-policy.ts`, emitting `request-retry`.
 * Connection errors, timeouts and 500/502/503/504 also count towards marking the endpoint down (a
 * streak of 5xx only when the endpoint's health path fails too, see `EndpointSet`); a
 * failure that leaves its endpoint down is not counted against `maxRetries`: the call goes back to
 * `EndpointSet.acquire`, which picks another endpoint or waits for one to come up. Each attempt is
 * bounded by the engine's `AttemptDeadline` (fixed `timeoutMs`, or derived from latency), and its
 * reply by `maxResponseBytes` (a larger one fails the request at once: `RESPONSE_TOO_LARGE`).
 */
import { setTimeout as sleepFor } from "node:timers/promises";
import type { AttemptDeadline } from "./attempt-deadline.js";
import type { EngineEvent } from "./engine.js";
import type { Endpoint, EndpointSet } from "./endpoint-set.js";
import { EngineRequestError, snippetOf } from "./engine-request-error.js";
import { displayUrl } from "./display-url.js";
import {
  isRetryableTransportError,
  parseRetryAfter,
  retryDelay,
  transportErrorCode,
  type RetryOptions,
} from "./retry-policy.js";

/** Connection failures on down endpoints a single call may shrug off before they count. */
const maxUncountedFailures = 50;

export interface SendOptions {
  engine: string;
  endpoints: EndpointSet;
  /** Path under the endpoint's base URL (`/chat/completions`, `/api/chat`). */
  path: string;
  body: string;
  headers: Record<string, string>;
  /** Bounds each attempt; learns from the successful ones. */
  deadline: AttemptDeadline;
  /** The reply size limit the endpoints' pools enforce, for the error message. */
  maxResponseBytes: number;
  retry: RetryOptions;
  signal?: AbortSignal | undefined;
  /** Masked out of error snippets (the API key). */
  secret?: string | undefined;
  onEvent?: ((event: EngineEvent) => void) | undefined;
  /** Injected in tests only. @default Math.random */
  random?: () => number;
  /** A hash of the request's prefix: requests that share one prefer the same endpoint. */
  affinity?: number | undefined;
}

export interface SentResponse {
  status: number;
  body: string;
  /** Attempts made, the successful one included. */
  attempts: number;
}

export async function sendWithRetry(options: SendOptions): Promise<SentResponse> {
  const { engine, endpoints, retry, signal } = options;
  let attempts = 0;
  let counted = 0;
  let uncounted = 0;
  let timeouts = 0;
  for (;;) {
    const endpoint = await endpoints.acquire(signal, options.affinity);
    attempts += 1;
    const outcome = await attemptOnce(options, endpoint, timeouts);
    if (outcome.tooLarge) {
      // The endpoint answered; the reply is the problem, and a retry would most likely repeat it.
      endpoints.reportSuccess(endpoint);
      throw new EngineRequestError({
        engine,
        attempts,
        status: outcome.status,
        bodySnippet: tooLargeCode,
        message: `Engine \`${engine}\` sent a reply larger than maxResponseBytes (${options.maxResponseBytes} bytes): ${tooLargeCode}`,
        cause: outcome.error,
      });
    }
    if (outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300) {
      endpoints.reportSuccess(endpoint);
      return { status: outcome.status, body: outcome.body, attempts };
    }
    const { status, reason } = outcome;
    if (outcome.error instanceof AttemptTimeoutError) timeouts += 1;
    const snippet = status === undefined ? outcome.body : snippetOf(outcome.body, options.secret);
    const retryable = status === undefined ? isRetryableTransportError(outcome.error) : retry.retryStatuses.includes(status);
    if (status === undefined || healthStatuses.has(status)) {
      // The endpoint itself may be failing: once it is marked down, this failure does not count.
      const kind = status !== undefined ? "answered" : transportErrorCode(outcome.error) === "ECONNREFUSED" ? "refused" : "silent";
      const down = endpoints.reportTransportFailure(endpoint, reason, kind);
      if (retryable && down && uncounted < maxUncountedFailures) {
        uncounted += 1;
        continue;
      }
    } else {
      endpoints.reportSuccess(endpoint);
    }
    counted += 1;
    if (!retryable || counted > retry.maxRetries) {
      const after = retryable ? ` after ${attempts} attempt${attempts === 1 ? "" : "s"}` : "";
      throw new EngineRequestError({
        engine,
        attempts,
        status,
        bodySnippet: snippet,
        message:
          status === undefined
            ? `Request to engine \`${engine}\` failed${after}: ${reason}`
            : `Engine \`${engine}\` answered HTTP ${status}${after}: ${snippet}`,
        cause: outcome.error,
      });
    }
    await pause(options, { attempts, retryNumber: counted, status, reason, retryAfter: outcome.retryAfter, url: endpoint.url });
  }
}

/** Statuses that say the server itself is unwell: they count towards marking an endpoint down. */
const healthStatuses = new Set([500, 502, 503, 504]);

/** The code a reply over `maxResponseBytes` fails with (its error record's snippet). */
export const tooLargeCode = "RESPONSE_TOO_LARGE";

interface AttemptOutcome {
  /** Absent when no response came (connection error, timeout). */
  status: number | undefined;
  /** The reply passed `maxResponseBytes` (undici cut the connection). */
  tooLarge?: true;
  /** The response body, or the error code when no response came. */
  body: string;
  reason: string;
  retryAfter: string | string[] | undefined;
  error?: unknown;
}

/** The whole-attempt deadline passed: a transport failure like a socket timeout, so it is retried. */
class AttemptTimeoutError extends Error {
  readonly code = "ETIMEDOUT";

  constructor(limitMs: number, adaptive: boolean) {
    super(adaptive ? `no complete answer within ${limitMs} ms (the limit derived from latency; see timeoutMs)` : `no complete answer within timeoutMs ${limitMs}`);
    this.name = "AttemptTimeoutError";
  }
}

/**
 * One request: the deadline bounds the whole attempt, headers and body, on a timer of our own
 * (undici's header and body timeouts tick once a second, and its body timeout is between chunks).
 * `priorTimeouts`: attempts of this request that timed out already (each doubles an adaptive limit).
 */
async function attemptOnce(options: SendOptions, endpoint: Endpoint, priorTimeouts: number): Promise<AttemptOutcome> {
  const { signal, deadline } = options;
  // One controller per attempt, aborted by the deadline or by the caller's signal. Not
  // AbortSignal.any: on Node 20 it keeps every composed signal alive as long as the run's signal
  // (about 5 MB per 100k requests).
  const attempt = new AbortController();
  const started = performance.now();
  const armed = deadline.arm(priorTimeouts, (limitMs) => attempt.abort(new AttemptTimeoutError(limitMs, deadline.adaptive)));
  const onAbort = (): void => attempt.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  let status: number | undefined;
  let latencyMs: number | undefined;
  try {
    const response = await endpoint.pool.request({
      method: "POST",
      path: endpoint.path(options.path),
      headers: options.headers,
      body: options.body,
      // Kept as a backstop, and so undici's own 300 s defaults never cut a longer limit short.
      headersTimeout: deadline.ceilingMs,
      bodyTimeout: deadline.ceilingMs,
      signal: attempt.signal,
    });
    status = response.statusCode;
    const body = await response.body.text();
    if (status >= 200 && status < 300) {
      latencyMs = performance.now() - started;
      deadline.recordSuccess(latencyMs);
    }
    return { status, body, reason: `HTTP ${status}`, retryAfter: response.headers["retry-after"] };
  } catch (error) {
    if (signal?.aborted === true) throw signal.reason;
    if (transportErrorCode(error) === "UND_ERR_RES_EXCEEDED_MAX_SIZE") {
      return { status, tooLarge: true, body: tooLargeCode, reason: tooLargeCode, retryAfter: undefined, error };
    }
    if (attempt.signal.reason instanceof AttemptTimeoutError) {
      const timeout = attempt.signal.reason;
      return { status: undefined, body: timeout.code, reason: `TIMEOUT: ${timeout.message}`, retryAfter: undefined, error: timeout };
    }
    const code = transportErrorCode(error) ?? (error instanceof Error ? error.message : String(error));
    return { status: undefined, body: code, reason: code, retryAfter: undefined, error };
  } finally {
    armed.disarm();
    signal?.removeEventListener("abort", onAbort);
    const overloaded = status === 429 || status === 503;
    options.endpoints.release(endpoint, latencyMs === undefined ? { overloaded } : { overloaded, latencyMs });
  }
}

interface RetryPause {
  attempts: number;
  retryNumber: number;
  status: number | undefined;
  reason: string;
  retryAfter: string | string[] | undefined;
  url: string;
}

/** Emits `request-retry` and sleeps the backoff (or the server's `Retry-After`), abortably. */
async function pause(options: SendOptions, retryPause: RetryPause): Promise<void> {
  const { retryNumber, status, retryAfter } = retryPause;
  const delayMs = retryDelay(retryNumber, parseRetryAfter(retryAfter), options.retry, options.random);
  options.onEvent?.({
    type: "request-retry",
    engine: options.engine,
    attempt: retryPause.attempts,
    ...(status === undefined ? {} : { status }),
    reason: retryPause.reason,
    delayMs,
    endpoint: displayUrl(retryPause.url),
  });
  const { signal } = options;
  try {
    await sleepFor(delayMs, undefined, signal === undefined ? {} : { signal });
  } catch (error) {
    throw signal?.aborted === true ? signal.reason : error;
  }
}
