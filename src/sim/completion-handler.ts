/**
 * The shared flow of a chat request (OpenAI or Ollama): parse, check the model and the context
 * window, decide faults, plan the reply, run it through the performance model, then answer in
 * one `end()` or as a stream.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { RequestError, type ChatRequest } from "./chat-request.js";
import type { Protocol, ReplyContext } from "./protocol.js";
import { sendHugeReply } from "./huge-reply.js";
import { planReply, type Reply } from "./reply-planner.js";
import type { JobHandle, JobTiming } from "./scheduler.js";
import { prefixBlocks } from "./prefix-cache.js";
import { hashString } from "./seeded-random.js";
import type { SimulatorState } from "./simulator-state.js";
import { CHARACTERS_PER_TOKEN, countPromptTokens } from "./tokens.js";

/** Sends a JSON body with one `end()`. */
export function sendJson(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers });
  response.end(body);
}

function resolveMaxTokens(state: SimulatorState, request: ChatRequest): number {
  const { maxModelLen } = state.options;
  const promptTokens = countPromptTokens(request.messages);
  const maxTokens = request.maxTokens ?? maxModelLen - promptTokens;
  if (promptTokens + maxTokens > maxModelLen || maxTokens < 1) {
    throw new RequestError(400, `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`);
  }
  return maxTokens;
}

/** Handles one chat request whose body has been read. */
export function handleChat(state: SimulatorState, protocol: Protocol, request: IncomingMessage, response: ServerResponse, rawBody: string): void {
  const fail = (status: number, message: string, headers?: Record<string, string>): void => sendJson(response, status, protocol.errorBody(status, message), headers);
  let chat: ChatRequest;
  let maxTokens: number;
  try {
    chat = protocol.parse(JSON.parse(rawBody));
    if (chat.model !== state.options.model) throw new RequestError(404, protocol.unknownModel(chat.model));
    maxTokens = resolveMaxTokens(state, chat);
    if (chat.priority !== 0 && state.options.schedulingPolicy !== "priority") {
      throw new RequestError(400, `Got priority ${chat.priority} but Priority scheduling is not enabled.`);
    }
  } catch (error) {
    if (error instanceof RequestError) return fail(error.status, error.message);
    return fail(400, `Invalid request body: ${error instanceof Error ? error.message : String(error)}`);
  }
  const decision = state.planner.decide(hashString(rawBody));
  if (decision !== undefined) state.faults[decision]++;
  switch (decision) {
    case "slowStart":
      return fail(503, "The server is starting up");
    case "dead":
    case "http500":
      return fail(500, "EngineCore encountered an issue. See stack trace (above) for the root cause.");
    case "http503":
      return fail(503, "Service Unavailable");
    case "http429":
      return fail(429, "Too many requests", { "retry-after": String(state.planner.faults.retryAfterSeconds ?? 1) });
    case "resetBeforeBody":
      request.socket.resetAndDestroy();
      return;
    case "hang":
      state.hanging.add(response);
      response.on("close", () => state.hanging.delete(response));
      return;
  }
  const context: ReplyContext = {
    id: `chatcmpl-${randomUUID().replaceAll("-", "")}`,
    model: chat.model,
    created: Math.floor(Date.now() / 1000),
    includeUsage: chat.includeUsage,
  };
  if (decision === "hugeReply") return sendHugeReply(state, protocol, response, chat, context);
  const reply = planReply(chat, maxTokens, state.options.seed, state.options.replyTokens, decision);
  const resetMidBody = decision === "resetMidBody";
  // Filled once the scheduler accepts the job; the callbacks below may run before that (time scale 0).
  const job: { handle?: JobHandle } = {};
  let finished = false;
  let aborted = false;
  response.on("close", () => {
    if (!finished) job.handle?.cancel();
  });
  const done = (timing: JobTiming): void => {
    finished = true;
    if (response.destroyed || aborted) return;
    if (!chat.stream) return answer(state, protocol, response, reply, context, timing, resetMidBody);
    const rest = reply.content.slice(sent);
    response.end((rest === "" ? "" : protocol.streamDelta(rest, context)) + protocol.streamEnd(reply, context, timing));
    complete(state, reply, timing);
  };
  let sent = 0;
  const progress = (generated: number): void => {
    if (response.destroyed || aborted) return;
    if (!response.headersSent) response.writeHead(200, { "content-type": protocol.streamContentType, "cache-control": "no-cache" }).write(protocol.streamStart(context));
    let upto = Math.min(reply.content.length, generated * CHARACTERS_PER_TOKEN);
    const cut = resetMidBody && upto >= reply.content.length / 2;
    if (cut) upto = Math.floor(reply.content.length / 2);
    if (upto > sent) response.write(protocol.streamDelta(reply.content.slice(sent, upto), context));
    sent = upto;
    if (cut) {
      finished = true;
      aborted = true;
      queueMicrotask(() => job.handle?.cancel());
      resetAfterWrite(response, "");
    }
  };
  const traits = { priority: chat.priority, ...(state.scheduler.prefixCache === undefined ? {} : { prefixBlocks: prefixBlocks(chat.messages) }) };
  job.handle = state.scheduler.submit(reply.promptTokens, reply.completionTokens, chat.stream ? { onProgress: progress, onDone: done } : { onDone: done }, traits);
}

function complete(state: SimulatorState, reply: Reply, timing: JobTiming): void {
  state.completed++;
  state.metrics.recordSuccess(reply, timing.ttftMs, timing.e2eMs);
}

function answer(state: SimulatorState, protocol: Protocol, response: ServerResponse, reply: Reply, context: ReplyContext, timing: JobTiming, resetMidBody: boolean): void {
  const body = protocol.completeBody(reply, context, timing);
  if (!resetMidBody) {
    sendJson(response, 200, body);
    complete(state, reply, timing);
    return;
  }
  response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  resetAfterWrite(response, body.slice(0, Math.floor(body.length / 2)));
}

/**
 * Writes `text`, then resets the connection. Node sends a FIN, not an RST, when the reset follows
 * the write's callback too closely (measured on Node 20), so the reset waits 10 ms of wall time.
 */
function resetAfterWrite(response: ServerResponse, text: string): void {
  const socket = response.socket;
  response.write(text, () => setTimeout(() => socket?.resetAndDestroy(), 10));
}
