import type { z } from "zod";
import type { RowFailure } from "./row.js";

/** Checks what reaches a node against its `inputModel`; a mismatch names every bad field. */
export function checkInput(model: z.ZodType | undefined, input: unknown, node: string, kind: "step" | "apply"): RowFailure | undefined {
  if (model === undefined) return undefined;
  const parsed = model.safeParse(input);
  if (parsed.success) return undefined;
  const fields = parsed.error.issues.map((issue) => `field \`${issue.path.join(".") || "(root)"}\`: ${issue.message}`);
  return { node, type: "INPUT_ROW", message: `input does not match the inputModel of ${kind} \`${node}\`: ${fields.join("; ")}`, attempts: 0 };
}
