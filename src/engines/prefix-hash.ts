/**
 * The affinity key of a request: a 32-bit FNV-1a hash of the start of its prompt (roles and
 * contents, up to `prefixAffinityCharacters`). Requests that start alike (the branches of one row,
 * the rows of a chain whose long system prompt fills the window) hash alike, so the endpoint set
 * can send them to the same server, whose prefix cache then skips their shared prefill.
 */
import type { ChatMessage } from "./engine.js";

/** Characters of the prompt's start that make up its key: about 500 tokens. */
export const prefixAffinityCharacters = 2048;

export function prefixHash(messages: readonly ChatMessage[]): number {
  let hash = 0x811c9dc5;
  let remaining = prefixAffinityCharacters;
  for (const message of messages) {
    const text = `${message.role}\u0000${message.content}\u0000`;
    const length = Math.min(remaining, text.length);
    for (let index = 0; index < length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
    remaining -= length;
    if (remaining <= 0) break;
  }
  return hash >>> 0;
}
