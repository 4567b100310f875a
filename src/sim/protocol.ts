/**
 * What differs between the OpenAI-compatible and the Ollama chat endpoints: how a body is parsed
 * and how replies, stream frames and errors are rendered. The request flow itself is shared
 * (`completion-handler.ts`).
 */
import type { ChatRequest } from "./chat-request.js";
import type { Reply } from "./reply-planner.js";
import type { JobTiming } from "./scheduler.js";

/** Facts about one request that every rendering needs. */
export interface ReplyContext {
  id: string;
  model: string;
  /** Unix seconds when the request arrived. */
  created: number;
  includeUsage: boolean;
}

export interface Protocol {
  readonly route: string;
  readonly streamContentType: string;
  parse(body: unknown): ChatRequest;
  /** The error body for an HTTP error status (400, 404, 429, 500, 503). */
  errorBody(status: number, message: string): string;
  /** The message a request for an unknown model gets (with status 404). */
  unknownModel(model: string): string;
  /** The body of a non-streaming reply. */
  completeBody(reply: Reply, context: ReplyContext, timing: JobTiming): string;
  /** Frames sent when a stream opens (before any content). */
  streamStart(context: ReplyContext): string;
  /** One frame carrying new content. */
  streamDelta(text: string, context: ReplyContext): string;
  /** The closing frames (finish reason, usage, terminator). */
  streamEnd(reply: Reply, context: ReplyContext, timing: JobTiming): string;
}
