/**
 * Rows that cannot fit are not sent. The model's context window comes from the server's
 * `/v1/models` (`max_model_len`, vLLM and most OpenAI-compatible servers; read once, on the first
 * request); a prompt whose size plus `maxTokens` passes it fails up front with `PROMPT_TOO_LONG`
 * (the row gets an error record; no request is sent, nothing is retried).
 *
 * Counting, cheapest first: a prompt whose character count (an upper bound on its tokens) plus
 * `maxTokens` fits is sent as is, which is nearly every row of a long-context model (while the
 * window is still being read, a bound within 2,048 tokens counts as fitting: no request waits for
 * the lookup unless it might need it). Otherwise the
 * server's `/tokenize` counts it exactly, chat template included (vLLM has it); without one, the
 * prompt is refused only when it cannot fit even at `charactersPerTokenCeiling` characters a token
 * (no tokenizer packs more), so a row that might fit is sent and the server decides.
 */
import type { Pool } from "undici";
import { ChainetteError } from "../errors.js";
import type { GenerateRequest } from "./engine.js";

/** More characters per token than any tokenizer packs into ordinary text. */
export const charactersPerTokenCeiling = 6;
/** Tokens a chat template adds per message, at most (role header and end-of-turn markers). */
const templateTokensPerMessage = 8;
const lookupTimeoutMs = 10_000;
const retryLookupMs = 30_000;
/** A context window every served model has, assumed while the real one is being read. */
const assumedWindow = 2048;

/** More tokens than the request can take: one per character, the template's at most, `maxTokens`. */
function upperBound(request: GenerateRequest): number {
  const characters = request.messages.reduce((sum, message) => sum + message.content.length, 0);
  return characters + request.messages.length * templateTokensPerMessage + (request.sampling.maxTokens ?? 1);
}
/** What `#json` returns when the server gave no answer (connection error, timeout, 5xx). */
const unanswered = Symbol("unanswered");

/** A prompt that cannot fit the model's context window (row-level; no request was sent). */
export class PromptTooLongError extends ChainetteError {
  readonly engine: string;
  /** No request was sent. */
  readonly attempts = 0;
  readonly promptTokens: number;
  readonly maxModelLen: number;

  constructor(fields: { engine: string; promptTokens: number; exact: boolean; maxTokens: number; maxModelLen: number }) {
    const counted = fields.exact ? `${fields.promptTokens} tokens` : `at least ${fields.promptTokens} tokens (estimated)`;
    super(
      "PROMPT_TOO_LONG",
      `The prompt (${counted}) plus maxTokens ${fields.maxTokens} does not fit the context window of engine \`${fields.engine}\` (max_model_len ${fields.maxModelLen}); not sent`,
    );
    this.engine = fields.engine;
    this.promptTokens = fields.promptTokens;
    this.maxModelLen = fields.maxModelLen;
  }
}

export interface ContextWindowOptions {
  engine: string;
  model: string;
  /** The engine's first endpoint: its pool and base URL (`http://host:8000/v1`). */
  pool: Pool;
  base: URL;
  headers: Record<string, string>;
}

export class ContextWindow {
  readonly #options: ContextWindowOptions;
  #maxModelLen: Promise<number | undefined> | undefined;
  /** The window once read: a number, `null` when the server does not say it, `undefined` before. */
  #known: number | null | undefined;
  /** When `/v1/models` went unanswered (the server down or starting): asked again 30 s later. */
  #unansweredAt: number | undefined;
  /** `false` once the server answered `/tokenize` with 404/405 (or not at all). */
  #tokenize = true;

  constructor(options: ContextWindowOptions) {
    this.#options = options;
  }

  /**
   * Whether the request surely fits, decided without waiting: its character count (an upper bound
   * on its tokens) plus `maxTokens` is within the window, or within `assumedWindow` while the
   * window is still being read (the first requests of a run are not held up by the lookup).
   */
  surelyFits(request: GenerateRequest): boolean {
    void this.#lookUp();
    const bound = upperBound(request);
    return this.#known === undefined ? bound <= assumedWindow : this.#known === null || bound <= this.#known;
  }

  /** Throws `PromptTooLongError` when the request cannot fit; resolves otherwise (or when the window is unknown). */
  async check(request: GenerateRequest): Promise<void> {
    const maxModelLen = await this.#lookUp();
    if (maxModelLen === undefined) return;
    const maxTokens = request.sampling.maxTokens ?? 1;
    const characters = request.messages.reduce((sum, message) => sum + message.content.length, 0);
    if (upperBound(request) <= maxModelLen) return;
    const exact = this.#tokenize ? await this.#count(request) : undefined;
    const promptTokens = exact ?? Math.ceil(characters / charactersPerTokenCeiling);
    if (promptTokens + maxTokens > maxModelLen) {
      throw new PromptTooLongError({ engine: this.#options.engine, promptTokens, exact: exact !== undefined, maxTokens, maxModelLen });
    }
  }

  /** The window, read once (again 30 s after an unanswered lookup); `#known` holds it once read. */
  #lookUp(): Promise<number | undefined> {
    if (this.#unansweredAt !== undefined && performance.now() - this.#unansweredAt > retryLookupMs) {
      this.#unansweredAt = undefined;
      this.#maxModelLen = undefined;
      this.#known = undefined;
    }
    this.#maxModelLen ??= this.#readMaxModelLen().then((length) => {
      this.#known = length ?? null;
      return length;
    });
    return this.#maxModelLen;
  }

  async #readMaxModelLen(): Promise<number | undefined> {
    const { base, model } = this.#options;
    const reply = await this.#json("GET", `${base.pathname.replace(/\/+$/, "")}/models`);
    if (reply === unanswered) this.#unansweredAt = performance.now();
    const data = typeof reply === "object" && reply !== null && "data" in reply && Array.isArray(reply.data) ? (reply.data as unknown[]) : [];
    for (const entry of data) {
      if (typeof entry !== "object" || entry === null) continue;
      const { id, max_model_len: length } = entry as { id?: unknown; max_model_len?: unknown };
      if (id === model && typeof length === "number" && Number.isInteger(length) && length > 0) return length;
    }
    return undefined;
  }

  /** The prompt's exact token count from `/tokenize`, or `undefined` (and no more asking) without one. */
  async #count(request: GenerateRequest): Promise<number | undefined> {
    const { base, model } = this.#options;
    const path = `${base.pathname.replace(/\/+$/, "").replace(/\/v1$/, "")}/tokenize`;
    const reply = await this.#json("POST", path, JSON.stringify({ model, messages: request.messages }));
    const count = typeof reply === "object" && reply !== null && "count" in reply ? reply.count : undefined;
    if (typeof count === "number" && Number.isInteger(count)) return count;
    this.#tokenize = false;
    return undefined;
  }

  /** A JSON reply; `undefined` for a non-200, `unanswered` for no answer (the check then knows less, and sends). */
  async #json(method: "GET" | "POST", path: string, body?: string): Promise<unknown> {
    const { pool, headers } = this.#options;
    try {
      const response = await pool.request({
        method,
        path,
        headers: { ...headers, "content-type": "application/json" },
        ...(body === undefined ? {} : { body }),
        headersTimeout: lookupTimeoutMs,
        bodyTimeout: lookupTimeoutMs,
      });
      const text = await response.body.text();
      return response.statusCode === 200 ? (JSON.parse(text) as unknown) : response.statusCode >= 500 ? unanswered : undefined;
    } catch {
      return unanswered;
    }
  }
}
