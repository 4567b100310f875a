/**
 * Transport retry policy, modelled on undici's retry interceptor: which failures are worth another
 * try, how long to wait (exponential backoff with full jitter, `Retry-After` honoured), and when to
 * give up. Pure arithmetic and classification; the loop that uses it is `send-with-retry.ts`.
 */

export interface RetryOptions {
  /** Retries after the first attempt (so `maxRetries + 1` attempts in all). @default 6 */
  maxRetries: number;
  /** Backoff before the first retry, before jitter; it doubles each retry. @default 500 */
  baseDelayMs: number;
  /** Upper bound of one backoff delay, before jitter. @default 30_000 */
  maxDelayMs: number;
  /** Upper bound on a server's `Retry-After`; a longer one is cut to this. @default 60_000 */
  maxRetryAfterMs: number;
  /** HTTP statuses retried. @default [408, 409, 425, 429, 500, 502, 503, 504] */
  retryStatuses: readonly number[];
}

export const defaultRetryOptions: RetryOptions = {
  maxRetries: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
  retryStatuses: [408, 409, 425, 429, 500, 502, 503, 504],
};

/** Socket-level error codes retried (on the error or anywhere on its `cause` chain). */
const retryableErrorCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "EAI_AGAIN",
]);

/** undici errors that say "this request was wrong", not "the network failed": never retried. */
const permanentUndiciCodes = new Set([
  "UND_ERR_ABORTED",
  "UND_ERR_INVALID_ARG",
  "UND_ERR_INVALID_RETURN_VALUE",
  "UND_ERR_NOT_SUPPORTED",
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_RES_EXCEEDED_MAX_SIZE",
]);

/**
 * Delay before retry number `retry` (1-based): full jitter, `random() * min(max, base * 2^(retry-1))`
 * (AWS "Exponential Backoff and Jitter"). `random` is injectable for tests.
 */
export function backoffDelay(retry: number, options: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * `Retry-After` in milliseconds: delta-seconds (`"3"`, `"0.5"`) or an HTTP date. `undefined` when
 * absent or unreadable; a date in the past gives 0.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const header = Array.isArray(value) ? value[0] : value;
  if (header === undefined || header.trim() === "") return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** The delay before retry number `retry`: the server's `Retry-After` when it sent one, else backoff. */
export function retryDelay(
  retry: number,
  retryAfterMs: number | undefined,
  options: RetryOptions,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, options.maxRetryAfterMs);
  return backoffDelay(retry, options, random);
}

/** The stable code of a transport error (`ECONNRESET`, `UND_ERR_SOCKET`, ...), searched along `cause`. */
export function transportErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (retryableErrorCodes.has(code) || code.startsWith("UND_ERR_"))) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether a thrown transport error (no HTTP response) is worth another try. */
export function isRetryableTransportError(error: unknown): boolean {
  const code = transportErrorCode(error);
  if (code === undefined) return false;
  return retryableErrorCodes.has(code) || !permanentUndiciCodes.has(code);
}
