/**
 * vLLM's OpenAI-compatible `/v1/chat/completions`: `chat.completion` bodies, SSE
 * `chat.completion.chunk` frames ending in `data: [DONE]`, and OpenAI-style error bodies.
 */
import { parseOpenAiRequest } from "./chat-request.js";
import type { Protocol, ReplyContext } from "./protocol.js";
import type { Reply } from "./reply-planner.js";

const ERROR_TYPES: Record<number, string> = {
  400: "BadRequestError",
  404: "NotFoundError",
  429: "RateLimitError",
  500: "InternalServerError",
  503: "ServiceUnavailableError",
};

function usage(reply: Reply): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return { prompt_tokens: reply.promptTokens, completion_tokens: reply.completionTokens, total_tokens: reply.promptTokens + reply.completionTokens };
}

function chunk(context: ReplyContext, choices: unknown[], extra?: Record<string, unknown>): string {
  const body = { id: context.id, object: "chat.completion.chunk", created: context.created, model: context.model, choices, ...extra };
  return `data: ${JSON.stringify(body)}\n\n`;
}

export const openAiProtocol: Protocol = {
  route: "/v1/chat/completions",
  streamContentType: "text/event-stream; charset=utf-8",
  parse: parseOpenAiRequest,

  errorBody(status, message) {
    return JSON.stringify({ error: { message, type: ERROR_TYPES[status] ?? "InternalServerError", param: null, code: status } });
  },

  unknownModel(model) {
    return `The model \`${model}\` does not exist.`;
  },

  completeBody(reply, context) {
    return JSON.stringify({
      id: context.id,
      object: "chat.completion",
      created: context.created,
      model: context.model,
      choices: [{ index: 0, message: { role: "assistant", content: reply.content, tool_calls: [] }, logprobs: null, finish_reason: reply.finishReason, stop_reason: null }],
      usage: usage(reply),
      prompt_logprobs: null,
    });
  },

  streamStart(context) {
    return chunk(context, [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
  },

  streamDelta(text, context) {
    return chunk(context, [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }]);
  },

  streamEnd(reply, context) {
    let frames = chunk(context, [{ index: 0, delta: {}, logprobs: null, finish_reason: reply.finishReason, stop_reason: null }]);
    if (context.includeUsage) frames += chunk(context, [], { usage: usage(reply) });
    return `${frames}data: [DONE]\n\n`;
  },
};
