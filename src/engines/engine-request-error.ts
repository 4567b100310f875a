/**
 * The row-level failure of one request after its transport retries: `ChainetteError` with code
 * `ENGINE_REQUEST`, plus what the error record needs (HTTP status, attempts, a snippet of the body).
 * Never carries request headers, so never an API key.
 */
import { ChainetteError } from "../errors.js";

/** Longest body snippet kept on an error, in characters. */
export const bodySnippetLength = 500;

export class EngineRequestError extends ChainetteError {
  /** The engine's name. */
  readonly engine: string;
  /** HTTP status of the last attempt, absent when it got no response (connection error, timeout). */
  readonly status: number | undefined;
  /** Transport attempts made, the first included. */
  readonly attempts: number;
  /** The start of the last response body (or the error code), for the error record. */
  readonly bodySnippet: string | undefined;

  constructor(fields: {
    engine: string;
    message: string;
    attempts: number;
    status?: number | undefined;
    bodySnippet?: string | undefined;
    cause?: unknown;
  }) {
    super("ENGINE_REQUEST", fields.message, { cause: fields.cause });
    this.engine = fields.engine;
    this.status = fields.status;
    this.attempts = fields.attempts;
    this.bodySnippet = fields.bodySnippet;
  }
}

/** The first `bodySnippetLength` characters of `body`, with every occurrence of `secret` masked. */
export function snippetOf(body: string, secret: string | undefined): string {
  const masked = secret !== undefined && secret !== "" ? body.split(secret).join("[REDACTED]") : body;
  return masked.length > bodySnippetLength ? `${masked.slice(0, bodySnippetLength)}…` : masked;
}
