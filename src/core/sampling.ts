/** Sampling parameters of a step. Unknown server parameters go verbatim through `extra`. */
export interface SamplingParams {
  /** @default the server's default */
  temperature?: number;
  topP?: number;
  /** Upper bound on generated tokens; a reply cut here has `finish_reason: "length"`. */
  maxTokens?: number;
  stop?: string[];
  seed?: number;
  /** Extra body fields sent as-is, e.g. `{ top_k: 20, repetition_penalty: 1.1 }`. */
  extra?: Record<string, unknown>;
}
