/**
 * Ollama's native `/api/chat`: one JSON body (`stream: false`) or NDJSON frames (the default),
 * the final one with `done: true` and the timing fields in nanoseconds.
 */
import { parseOllamaRequest } from "./chat-request.js";
import type { Protocol, ReplyContext } from "./protocol.js";
import type { Reply } from "./reply-planner.js";
import type { JobTiming } from "./scheduler.js";

function createdAt(context: ReplyContext): string {
  return new Date(context.created * 1000).toISOString();
}

function finalFields(reply: Reply, timing: JobTiming): Record<string, unknown> {
  const nanoseconds = (milliseconds: number): number => Math.round(milliseconds * 1e6);
  return {
    done_reason: reply.finishReason,
    done: true,
    total_duration: nanoseconds(timing.e2eMs),
    load_duration: 0,
    prompt_eval_count: reply.promptTokens,
    prompt_eval_duration: nanoseconds(timing.ttftMs - timing.queueMs),
    eval_count: reply.completionTokens,
    eval_duration: nanoseconds(timing.e2eMs - timing.ttftMs),
  };
}

export const ollamaProtocol: Protocol = {
  route: "/api/chat",
  streamContentType: "application/x-ndjson",
  parse: parseOllamaRequest,

  errorBody(_status, message) {
    return JSON.stringify({ error: message });
  },

  unknownModel(model) {
    return `model "${model}" not found, try pulling it first`;
  },

  completeBody(reply, context, timing) {
    return JSON.stringify({ model: context.model, created_at: createdAt(context), message: { role: "assistant", content: reply.content }, ...finalFields(reply, timing) });
  },

  streamStart() {
    return "";
  },

  streamDelta(text, context) {
    return `${JSON.stringify({ model: context.model, created_at: createdAt(context), message: { role: "assistant", content: text }, done: false })}\n`;
  },

  streamEnd(reply, context, timing) {
    return `${JSON.stringify({ model: context.model, created_at: createdAt(context), message: { role: "assistant", content: "" }, ...finalFields(reply, timing) })}\n`;
  },
};
