/**
 * vLLM's `POST /tokenize`: `{model, prompt}` or `{model, messages}` (the chat template applied)
 * gives `{count, max_model_len, tokens, token_strs}` under the simulator's token estimate. Clients
 * use it to check that a prompt fits the context window before sending it.
 */
import type { ServerResponse } from "node:http";
import { parseOpenAiRequest, RequestError } from "./chat-request.js";
import { sendJson } from "./completion-handler.js";
import { openAiProtocol } from "./openai-protocol.js";
import type { SimulatorState } from "./simulator-state.js";
import { countPromptTokens, countTokens } from "./tokens.js";

function promptTokens(body: unknown): { model: string; count: number } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new RequestError(400, "The request body must be a JSON object");
  const record = body as Record<string, unknown>;
  if (typeof record.prompt === "string") {
    if (typeof record.model !== "string") throw new RequestError(400, "`model` must be a string");
    return { model: record.model, count: countTokens(record.prompt) };
  }
  const chat = parseOpenAiRequest(body);
  return { model: chat.model, count: countPromptTokens(chat.messages) };
}

export function handleTokenize(state: SimulatorState, response: ServerResponse, rawBody: string): void {
  let tokens: { model: string; count: number };
  try {
    tokens = promptTokens(JSON.parse(rawBody));
    if (tokens.model !== state.options.model) throw new RequestError(404, openAiProtocol.unknownModel(tokens.model));
  } catch (error) {
    const status = error instanceof RequestError ? error.status : 400;
    const message = error instanceof RequestError ? error.message : `Invalid request body: ${error instanceof Error ? error.message : String(error)}`;
    return sendJson(response, status, openAiProtocol.errorBody(status, message));
  }
  // Token ids are not modelled: a deterministic run of ids of the right length.
  const ids = Array.from({ length: tokens.count }, (_, index) => 1000 + (index % 30_000));
  sendJson(response, 200, JSON.stringify({ count: tokens.count, max_model_len: state.options.maxModelLen, tokens: ids, token_strs: null }));
}
