/**
 * The OpenAI chat-completions protocol, for `vllm_api`, `openai` and `openai_compatible`.
 * Guided decoding is `response_format: { type: "json_schema", json_schema: { name, schema, strict } }`;
 * for `openai` the schema is first rewritten to OpenAI's strict subset (`openai-strict-schema.ts`)
 * and `maxTokens` is sent as `max_completion_tokens` (OpenAI deprecated `max_tokens`; reasoning
 * models reject it). vLLM and other servers get the schema as written and `max_tokens`.
 */
import type { Backend, GenerateRequest } from "./engine.js";
import { asRecord, countOf, type ChatProtocol, type ChatReply } from "./chat-protocol.js";
import { dropNullOptionals, toOpenAiStrictSchema } from "./openai-strict-schema.js";

export function createOpenAiChatProtocol(backend: Backend, model: string): ChatProtocol {
  const isOpenAi = backend === "openai";
  return {
    chatPath: "/chat/completions",
    probePath: (base) =>
      backend === "vllm_api" ? `${base.pathname.replace(/\/+$/, "").replace(/\/v1$/, "")}/health` : `${base.pathname.replace(/\/+$/, "")}/models`,
    buildBody(request: GenerateRequest): Record<string, unknown> {
      const { sampling, schema } = request;
      const body: Record<string, unknown> = { model, messages: request.messages };
      if (sampling.temperature !== undefined) body.temperature = sampling.temperature;
      if (sampling.topP !== undefined) body.top_p = sampling.topP;
      if (sampling.maxTokens !== undefined) body[isOpenAi ? "max_completion_tokens" : "max_tokens"] = sampling.maxTokens;
      if (sampling.stop !== undefined) body.stop = sampling.stop;
      if (sampling.seed !== undefined) body.seed = sampling.seed;
      if (schema !== undefined) {
        body.response_format = {
          type: "json_schema",
          json_schema: {
            name: responseFormatName(schema.name),
            schema: isOpenAi ? toOpenAiStrictSchema(schema.jsonSchema) : schema.jsonSchema,
            strict: true,
          },
        };
      }
      if (sampling.extra !== undefined) Object.assign(body, sampling.extra);
      return body;
    },
    parseReply(reply: unknown, request: GenerateRequest): ChatReply {
      const root = asRecord(reply);
      if (!Array.isArray(root.choices) || root.choices.length === 0) {
        throw new Error("Expected a chat completion with `choices[0]`, got none");
      }
      const choice = asRecord(root.choices[0]);
      const message = asRecord(choice.message);
      let text = typeof message.content === "string" ? message.content : "";
      if (isOpenAi && request.schema !== undefined) text = restoreOptionals(text, request.schema.jsonSchema);
      const reasoning = message.reasoning_content ?? message.reasoning;
      const usage = asRecord(root.usage);
      return {
        text,
        finishReason: typeof choice.finish_reason === "string" ? choice.finish_reason : "unknown",
        usage: { inputTokens: countOf(usage.prompt_tokens), outputTokens: countOf(usage.completion_tokens) },
        ...(typeof reasoning === "string" ? { reasoning } : {}),
        ...(typeof root.id === "string" ? { requestId: root.id } : {}),
      };
    },
  };
}

/** The reply with the `null`s OpenAI's strict mode forces for optional fields removed again. */
function restoreOptionals(text: string, schema: Record<string, unknown>): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text; // not JSON: the step's validation reports it
  }
  return JSON.stringify(dropNullOptionals(value, schema));
}

/** OpenAI requires `json_schema.name` to match `^[a-zA-Z0-9_-]{1,64}$`. */
function responseFormatName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64);
  return cleaned === "" ? "output" : cleaned;
}
