import type { z } from "zod";
import type { RowFailure } from "./row.js";
import { safeParse } from "./safe-parse.js";

/** Checks what reaches a node against its `inputModel`; a mismatch names every bad field. */
export function checkInput(model: z.ZodType | undefined, input: unknown, node: string, kind: "step" | "apply"): RowFailure | undefined {
  if (model === undefined) return undefined;
  const parsed = safeParse(model, input);
  if (parsed.success) return undefined;
  if (parsed.error === undefined) return { node, type: "INPUT_ROW", message: `input does not match the inputModel of ${kind} \`${node}\`: ${parsed.thrown}`, attempts: 0 };
  const fields = parsed.error.issues.map((issue) => `field \`${issue.path.join(".") || "(root)"}\`: ${issue.message}`);
  return { node, type: "INPUT_ROW", message: `input does not match the inputModel of ${kind} \`${node}\`: ${fields.join("; ")}`, attempts: 0 };
}
