/**
 * Ollama's native chat protocol (`POST /api/chat`, `stream: false`). Guided decoding is `format`
 * set to the JSON Schema; sampling goes in `options` (`num_predict` is the token limit) and
 * `sampling.extra` is merged into `options` too, since that is where Ollama reads `top_k`,
 * `repeat_penalty` and the like. Usage comes from `prompt_eval_count` / `eval_count`.
 */
import type { GenerateRequest } from "./engine.js";
import { asRecord, countOf, type ChatProtocol, type ChatReply } from "./chat-protocol.js";

export function createOllamaChatProtocol(model: string): ChatProtocol {
  return {
    chatPath: "/api/chat",
    probePath: (base) => `${base.pathname.replace(/\/+$/, "")}/api/tags`,
    buildBody(request: GenerateRequest): Record<string, unknown> {
      const { sampling, schema } = request;
      const options: Record<string, unknown> = {};
      if (sampling.temperature !== undefined) options.temperature = sampling.temperature;
      if (sampling.topP !== undefined) options.top_p = sampling.topP;
      if (sampling.maxTokens !== undefined) options.num_predict = sampling.maxTokens;
      if (sampling.stop !== undefined) options.stop = sampling.stop;
      if (sampling.seed !== undefined) options.seed = sampling.seed;
      if (sampling.extra !== undefined) Object.assign(options, sampling.extra);
      const body: Record<string, unknown> = { model, messages: request.messages, stream: false };
      if (schema !== undefined) body.format = schema.jsonSchema;
      if (Object.keys(options).length > 0) body.options = options;
      return body;
    },
    parseReply(reply: unknown): ChatReply {
      const root = asRecord(reply);
      const message = asRecord(root.message);
      if (typeof message.content !== "string") {
        throw new Error("Expected an Ollama chat reply with `message.content`, got none");
      }
      const reasoning = message.thinking;
      return {
        text: message.content,
        finishReason: typeof root.done_reason === "string" ? root.done_reason : root.done === true ? "stop" : "unknown",
        usage: { inputTokens: countOf(root.prompt_eval_count), outputTokens: countOf(root.eval_count) },
        ...(typeof reasoning === "string" && reasoning !== "" ? { reasoning } : {}),
      };
    },
  };
}
