/**
 * Parses the body of a chat request, OpenAI style (`/v1/chat/completions`) or Ollama style
 * (`/api/chat`), into one protocol-neutral shape. Invalid bodies give a `RequestError` carrying the
 * HTTP status and message the real server would send.
 */
import type { JsonSchema } from "./schema-generator.js";

export interface ChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  /** The JSON Schema the reply must satisfy (guided decoding), if any. */
  schema: JsonSchema | undefined;
  /** JSON without a schema (`json_object`, Ollama `format: "json"`). */
  jsonMode: boolean;
  maxTokens: number | undefined;
  stream: boolean;
  includeUsage: boolean;
  seed: number | undefined;
  /** vLLM's `ignore_eos`: a plain-text reply runs to `max_tokens`. */
  ignoreEos: boolean;
  /** vLLM's `priority` (lower first under the priority scheduling policy). 0 when absent. */
  priority: number;
}

export class RequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

type Body = Record<string, unknown>;

function isRecord(value: unknown): value is Body {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (isRecord(part) && typeof part.text === "string" ? part.text : "")).join("");
  }
  return content === null || content === undefined ? "" : JSON.stringify(content);
}

function parseMessages(body: Body): ChatRequest["messages"] {
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new RequestError(400, "`messages` must be a non-empty list");
  return body.messages.map((message, index) => {
    if (!isRecord(message) || typeof message.role !== "string") throw new RequestError(400, `messages[${index}] needs a string \`role\``);
    return { role: message.role, content: messageText(message.content) };
  });
}

function optionalInteger(body: Body, key: string, minimum: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < minimum) {
    throw new RequestError(400, `\`${key}\` must be an integer >= ${minimum}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function schemaValue(value: unknown): JsonSchema | undefined {
  return typeof value === "boolean" || isRecord(value) ? value : undefined;
}

/** Parses an OpenAI chat completion body as vLLM >= 0.12 reads it. */
export function parseOpenAiRequest(body: unknown): ChatRequest {
  if (!isRecord(body)) throw new RequestError(400, "The request body must be a JSON object");
  if (typeof body.model !== "string") throw new RequestError(400, "`model` must be a string");
  const n = optionalInteger(body, "n", 1);
  if (n !== undefined && n > 1) throw new RequestError(400, "The simulator supports `n` = 1 only");
  let schema: JsonSchema | undefined;
  let jsonMode = false;
  const responseFormat = body.response_format;
  if (isRecord(responseFormat)) {
    if (responseFormat.type === "json_schema") {
      const jsonSchema = responseFormat.json_schema;
      schema = isRecord(jsonSchema) ? schemaValue(jsonSchema.schema) : undefined;
      if (schema === undefined) throw new RequestError(400, "`response_format.json_schema.schema` must be a JSON Schema object");
    } else if (responseFormat.type === "json_object") jsonMode = true;
  }
  // vLLM's structured outputs field. The removed `guided_json` is deliberately ignored, as in vLLM >= 0.12.
  const structured = body.structured_outputs;
  if (schema === undefined && isRecord(structured) && structured.json !== undefined) {
    schema = typeof structured.json === "string" ? schemaValue(JSON.parse(structured.json)) : schemaValue(structured.json);
  }
  const streamOptions = body.stream_options;
  return {
    model: body.model,
    messages: parseMessages(body),
    schema,
    jsonMode,
    maxTokens: optionalInteger(body, "max_completion_tokens", 1) ?? optionalInteger(body, "max_tokens", 1),
    stream: body.stream === true,
    includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
    seed: optionalInteger(body, "seed", Number.MIN_SAFE_INTEGER),
    ignoreEos: body.ignore_eos === true,
    priority: optionalInteger(body, "priority", Number.MIN_SAFE_INTEGER) ?? 0,
  };
}

/** Parses an Ollama `/api/chat` body (`format` = a JSON Schema or "json"; `stream` defaults to true). */
export function parseOllamaRequest(body: unknown): ChatRequest {
  if (!isRecord(body)) throw new RequestError(400, "The request body must be a JSON object");
  if (typeof body.model !== "string") throw new RequestError(400, "model is required");
  const options = isRecord(body.options) ? body.options : {};
  const format = body.format;
  return {
    model: body.model,
    messages: parseMessages(body),
    schema: isRecord(format) ? format : undefined,
    jsonMode: format === "json",
    maxTokens: (() => {
      const value = optionalInteger(options, "num_predict", -2);
      return value === undefined || value < 1 ? undefined : value;
    })(),
    stream: body.stream !== false,
    includeUsage: true,
    seed: optionalInteger(options, "seed", Number.MIN_SAFE_INTEGER),
    ignoreEos: false,
    priority: 0,
  };
}
