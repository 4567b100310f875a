/** Backoff arithmetic and Retry-After parsing (injected random; no servers, no timers). */
import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  defaultRetryOptions,
  isRetryableTransportError,
  parseRetryAfter,
  retryDelay,
} from "../../src/engines/retry-policy.js";

describe("backoffDelay", () => {
  it("doubles from baseDelayMs up to maxDelayMs, with full jitter", () => {
    const top = (retry: number): number => backoffDelay(retry, defaultRetryOptions, () => 0.999999);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(top)).toEqual([499, 999, 1999, 3999, 7999, 15_999, 29_999, 29_999]);
    expect(backoffDelay(5, defaultRetryOptions, () => 0)).toBe(0);
    expect(backoffDelay(3, defaultRetryOptions, () => 0.5)).toBe(1000);
  });

  it("stays within [0, ceiling) for random draws", () => {
    for (let retry = 1; retry < 12; retry += 1) {
      const delay = backoffDelay(retry, defaultRetryOptions);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(Math.min(30_000, 500 * 2 ** (retry - 1)));
    }
  });
});

describe("Retry-After", () => {
  it("reads delta-seconds and HTTP dates", () => {
    const now = Date.parse("2026-11-23T10:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter("0.25", now)).toBe(250);
    expect(parseRetryAfter(["2"], now)).toBe(2000);
    expect(parseRetryAfter("Mon, 23 Nov 2026 10:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("Mon, 23 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it("wins over backoff, capped by maxRetryAfterMs", () => {
    expect(retryDelay(1, 4000, defaultRetryOptions, () => 0.99)).toBe(4000);
    expect(retryDelay(1, 3_600_000, defaultRetryOptions)).toBe(60_000);
    expect(retryDelay(2, undefined, defaultRetryOptions, () => 0.5)).toBe(500);
  });
});

describe("isRetryableTransportError", () => {
  it("retries socket errors and undici network errors, not aborts or bad arguments", () => {
    const coded = (code: string): Error => Object.assign(new Error(code), { code });
    expect(isRetryableTransportError(coded("ECONNRESET"))).toBe(true);
    expect(isRetryableTransportError(new Error("fetch failed", { cause: coded("ECONNREFUSED") }))).toBe(true);
    expect(isRetryableTransportError(coded("UND_ERR_SOCKET"))).toBe(true);
    expect(isRetryableTransportError(coded("UND_ERR_HEADERS_TIMEOUT"))).toBe(true);
    expect(isRetryableTransportError(coded("UND_ERR_ABORTED"))).toBe(false);
    expect(isRetryableTransportError(coded("UND_ERR_INVALID_ARG"))).toBe(false);
    expect(isRetryableTransportError(new TypeError("boom"))).toBe(false);
  });
});
