/**
 * What differs between the chat servers an engine talks to: where the chat call goes, how a
 * `GenerateRequest` becomes a request body, how the reply is read, and which path a health probe
 * asks. The transport (pools, retry, health) is the same for all and lives in `http-engine.ts`.
 */
import type { GenerateRequest, GenerateResult } from "./engine.js";

/** The parts of a `GenerateResult` read from the server's reply. */
export type ChatReply = Pick<GenerateResult, "text" | "finishReason" | "usage"> &
  Partial<Pick<GenerateResult, "reasoning" | "requestId">>;

export interface ChatProtocol {
  /** Path of the chat call under the endpoint's base URL. */
  readonly chatPath: string;
  /** Path probed on a down endpoint, from its base URL. */
  readonly probePath: (base: URL) => string;
  /** The JSON body for one request. */
  buildBody(request: GenerateRequest): Record<string, unknown>;
  /** Reads a parsed 2xx reply; throws `Error` with a message when the reply has the wrong shape. */
  parseReply(reply: unknown, request: GenerateRequest): ChatReply;
}

/** `value` as a record, or an empty one. */
export function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** `value` if it is a finite number, else 0. */
export function countOf(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}
