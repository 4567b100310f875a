/**
 * The JSON body an engine sends for one request, without sending it: what `run --dry-run` shows.
 * The same protocol the engine uses builds it (OpenAI's strict schema rewrite included).
 */
import type { EngineConfig, GenerateRequest } from "./engine.js";
import { createOllamaChatProtocol } from "./ollama-chat-protocol.js";
import { createOpenAiChatProtocol } from "./openai-chat-protocol.js";

export function requestBody(config: EngineConfig, request: GenerateRequest): Record<string, unknown> {
  const protocol = config.backend === "ollama_api" ? createOllamaChatProtocol(config.model) : createOpenAiChatProtocol(config.backend, config.model);
  return protocol.buildBody(request);
}
