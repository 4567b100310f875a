/**
 * Decides the content of a reply, deterministically: the same messages, schema, request seed and
 * simulator seed give the same content in every process. Applies `max_tokens` (cut, `length`),
 * `ignore_eos`, and the content faults (invalid JSON, truncated JSON).
 */
import type { ChatRequest } from "./chat-request.js";
import type { RequestFaultKind } from "./faults.js";
import { generateFromSchema } from "./schema-generator.js";
import { hashParts, SeededRandom } from "./seeded-random.js";
import { generateReply } from "./text-generator.js";
import { countPromptTokens, countTokens, truncateToTokens } from "./tokens.js";

export type FinishReason = "stop" | "length";

export interface Reply {
  content: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
}

/** The seed of a request's content: a hash of what determines it, nothing else. */
export function contentSeed(request: ChatRequest, simulatorSeed: number): number {
  return hashParts([JSON.stringify(request.messages), JSON.stringify(request.schema ?? null), request.jsonMode ? "json" : "", request.seed ?? "", simulatorSeed]);
}

function fullContent(request: ChatRequest, random: SeededRandom, replyTokens: number): string {
  if (request.schema !== undefined) return JSON.stringify(generateFromSchema(request.schema, random));
  if (request.jsonMode) return JSON.stringify({ answer: generateReply(random, random.integer(4, 16)) });
  if (request.ignoreEos && request.maxTokens !== undefined) return generateReply(random, request.maxTokens);
  return generateReply(random, random.integer(Math.ceil(replyTokens / 2), Math.ceil(replyTokens * 1.5)));
}

/** Plans a reply; `maxTokens` must already be resolved against the context window. */
export function planReply(request: ChatRequest, maxTokens: number, simulatorSeed: number, replyTokens: number, fault?: RequestFaultKind): Reply {
  const random = new SeededRandom(contentSeed(request, simulatorSeed));
  let content = fullContent(request, random, replyTokens);
  let finishReason: FinishReason = request.ignoreEos ? "length" : "stop";
  if (fault === "invalidJson") {
    // A typical model slip: a trailing comma before the closing bracket (or chatter before the JSON).
    const last = content.at(-1);
    content = last === "}" || last === "]" ? `${content.slice(0, -1)},${last}` : `Sure! ${content}`;
  }
  if (fault === "truncatedJson") {
    content = truncateToTokens(content, Math.max(1, Math.floor(countTokens(content) / 2)));
    finishReason = "length";
  }
  if (countTokens(content) > maxTokens) {
    content = truncateToTokens(content, maxTokens);
    finishReason = "length";
  }
  return {
    content,
    promptTokens: countPromptTokens(request.messages),
    completionTokens: Math.max(1, countTokens(content)),
    finishReason,
  };
}
