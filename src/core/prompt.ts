import { compileTemplate } from "./template.js";
import type { Prompt, RowContext } from "./row-context.js";

/** A prompt ready to render: a compiled template, or the user's function. */
export interface CompiledPrompt {
  /** The template text, or the function's source (it goes into the node fingerprint). */
  readonly source: string;
  /** Paths a template reads; `undefined` for a function (it cannot be checked ahead). */
  readonly paths: readonly string[] | undefined;
  render(context: RowContext): string;
}

export function compilePrompt(prompt: Prompt): CompiledPrompt {
  if (typeof prompt === "function") {
    return {
      source: prompt.toString(),
      paths: undefined,
      render(context) {
        const text = prompt(context);
        if (typeof text !== "string") throw new TypeError(`prompt function returned ${typeof text}, expected a string`);
        return text;
      },
    };
  }
  return compileTemplate(prompt);
}
