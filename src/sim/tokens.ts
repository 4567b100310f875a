/**
 * The simulator's tokenizer estimate: about four characters of English per token, the rule of
 * thumb OpenAI and Llama-3 tokenizers roughly follow. Deterministic, cheap, and documented in
 * docs/simulator.md; it is not a real tokenizer.
 */

/** Characters per token of the estimate. */
export const CHARACTERS_PER_TOKEN = 4;

/** Tokens a chat template adds per message (role header and end-of-turn markers in Llama 3). */
export const TOKENS_PER_MESSAGE = 4;

/** Estimated tokens of a piece of text (at least 1 for non-empty text). */
export function countTokens(text: string): number {
  return Math.ceil(text.length / CHARACTERS_PER_TOKEN);
}

/** Estimated prompt tokens of a list of chat messages, template overhead included. */
export function countPromptTokens(messages: readonly { content: string }[]): number {
  let total = 0;
  for (const message of messages) total += TOKENS_PER_MESSAGE + countTokens(message.content);
  return total;
}

/** The first `tokens` tokens of a text under the estimate (what `max_tokens` lets through). */
export function truncateToTokens(text: string, tokens: number): string {
  return text.slice(0, Math.max(0, tokens) * CHARACTERS_PER_TOKEN);
}
