/** Test helper: the promise rejects with a ChainetteError of this code whose message matches. */
import { expect } from "vitest";
import { ChainetteError, type ErrorCode } from "../../src/errors.js";

export async function expectChainetteError(promise: Promise<unknown>, code: ErrorCode, pattern: RegExp): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ChainetteError);
  expect((error as ChainetteError).code).toBe(code);
  expect((error as ChainetteError).message).toMatch(pattern);
}
