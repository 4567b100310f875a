/**
 * The simulator's model of vLLM's automatic prefix caching. A prompt is cut into blocks of
 * `PREFIX_BLOCK_TOKENS` tokens (under the simulator's four-characters-per-token estimate), each
 * block named by a hash chained over every block before it, as vLLM names its KV blocks. A request
 * whose leading blocks were computed recently skips their prefill. Blocks are kept in LRU order
 * within `capacityTokens` (the KV cache's free space holds them in vLLM).
 */
import { hashParts, hashString } from "./seeded-random.js";
import { CHARACTERS_PER_TOKEN } from "./tokens.js";

/** Tokens per KV-cache block (vLLM's default `--block-size`). */
export const PREFIX_BLOCK_TOKENS = 16;

const BLOCK_CHARACTERS = PREFIX_BLOCK_TOKENS * CHARACTERS_PER_TOKEN;

/** The chained hashes of a prompt's full blocks, in order. */
export function prefixBlocks(messages: readonly { role: string; content: string }[]): number[] {
  const text = messages.map((message) => `<|${message.role}|>${message.content}`).join("");
  const blocks: number[] = [];
  let previous = 0;
  for (let start = 0; start + BLOCK_CHARACTERS <= text.length; start += BLOCK_CHARACTERS) {
    previous = hashParts([previous, hashString(text.slice(start, start + BLOCK_CHARACTERS))], 0x9f1c);
    blocks.push(previous);
  }
  return blocks;
}

export class PrefixCache {
  readonly #capacityBlocks: number;
  /** Block hash -> nothing; a Map keeps insertion order, refreshed on every hit (LRU). */
  readonly #blocks = new Map<number, true>();
  /** Prompt tokens looked up, and of those found cached (vLLM's `prefix_cache_queries`/`_hits`). */
  queriedTokens = 0;
  hitTokens = 0;

  constructor(capacityTokens: number) {
    this.#capacityBlocks = Math.max(1, Math.floor(capacityTokens / PREFIX_BLOCK_TOKENS));
  }

  /**
   * Tokens of `promptTokens` already cached (the longest run of leading blocks present; at least
   * the last token is always computed), then records every block of this prompt as cached.
   */
  admit(blocks: readonly number[], promptTokens: number): number {
    let matched = 0;
    while (matched < blocks.length && this.#blocks.has(blocks[matched] ?? -1)) matched++;
    const cached = Math.min(matched * PREFIX_BLOCK_TOKENS, Math.max(0, promptTokens - 1));
    this.queriedTokens += promptTokens;
    this.hitTokens += cached;
    for (const block of blocks) {
      this.#blocks.delete(block);
      this.#blocks.set(block, true);
    }
    while (this.#blocks.size > this.#capacityBlocks) {
      const oldest = this.#blocks.keys().next();
      if (oldest.done === true) break;
      this.#blocks.delete(oldest.value);
    }
    return cached;
  }
}
