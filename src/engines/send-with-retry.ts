/**
 * One POST with transport retries across an engine's endpoints. Retries retryable statuses and
 * connection errors/timeouts with the policy of `retry-policy.ts`, emitting `request-retry`.
 * A connection failure that leaves its endpoint down is not counted against `maxRetries`: the call
 * goes back to `EndpointSet.acquire`, which picks another endpoint or waits for one to come up.
 */
import { setTimeout as sleepFor } from "node:timers/promises";
import type { EngineEvent } from "./engine.js";
import type { EndpointSet } from "./endpoint-set.js";
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
  timeoutMs: number;
  retry: RetryOptions;
  signal?: AbortSignal | undefined;
  /** Masked out of error snippets (the API key). */
  secret?: string | undefined;
  onEvent?: ((event: EngineEvent) => void) | undefined;
  /** Injected in tests only. @default Math.random */
  random?: () => number;
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
  for (;;) {
    const endpoint = await endpoints.acquire(signal);
    attempts += 1;
    let status: number;
    let body: string;
    let retryAfter: string | string[] | undefined;
    try {
      const response = await endpoint.pool.request({
        method: "POST",
        path: endpoint.path(options.path),
        headers: options.headers,
        body: options.body,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        signal,
      });
      status = response.statusCode;
      retryAfter = response.headers["retry-after"];
      body = await response.body.text();
    } catch (error) {
      endpoints.release(endpoint);
      if (signal?.aborted === true) throw signal.reason;
      const code = transportErrorCode(error) ?? (error instanceof Error ? error.message : String(error));
      const reason = /TIMEOUT/.test(code) ? `${code} (timeoutMs ${options.timeoutMs})` : code;
      if (!isRetryableTransportError(error)) {
        throw new EngineRequestError({ engine, attempts, message: `Request to engine \`${engine}\` failed: ${reason}`, cause: error });
      }
      const down = endpoints.reportTransportFailure(endpoint, reason);
      if (down && uncounted < maxUncountedFailures) {
        uncounted += 1;
        continue;
      }
      counted += 1;
      if (counted > retry.maxRetries) {
        throw new EngineRequestError({
          engine,
          attempts,
          bodySnippet: code,
          message: `Request to engine \`${engine}\` failed after ${attempts} attempts: ${reason}`,
          cause: error,
        });
      }
      await pause(options, { attempts, retryNumber: counted, status: undefined, reason, retryAfter: undefined, url: endpoint.url });
      continue;
    }
    endpoints.release(endpoint);
    endpoints.reportSuccess(endpoint);
    if (status >= 200 && status < 300) return { status, body, attempts };
    const snippet = snippetOf(body, options.secret);
    const retryable = retry.retryStatuses.includes(status);
    counted += 1;
    if (!retryable || counted > retry.maxRetries) {
      const after = retryable ? ` after ${attempts} attempts` : "";
      throw new EngineRequestError({
        engine,
        attempts,
        status,
        bodySnippet: snippet,
        message: `Engine \`${engine}\` answered HTTP ${status}${after}: ${snippet}`,
      });
    }
    await pause(options, { attempts, retryNumber: counted, status, reason: `HTTP ${status}`, retryAfter, url: endpoint.url });
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
