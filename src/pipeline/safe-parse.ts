import type { z } from "zod";

/** A zod result, or the exception validation threw, in words. */
export type SafeParseResult = z.ZodSafeParseResult<unknown> | { success: false; error?: undefined; thrown: string };

/**
 * `model.safeParse(value)` for a row's value, where a throw is the row's problem, not the run's: a
 * recursive schema (`z.lazy`) walks the value with the call stack and overflows it on a value that
 * nests deeply enough, and a refinement or transform is user code that may throw. Either comes
 * back as `thrown`, for that row's error record, instead of stopping the run on every resume.
 */
export function safeParse(model: z.ZodType, value: unknown): SafeParseResult {
  try {
    return model.safeParse(value);
  } catch (error) {
    if (error instanceof RangeError) return { success: false, thrown: `the value nests too deeply for the schema to check (${error.name}: ${error.message})` };
    return { success: false, thrown: `checking the schema threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}` };
  }
}
