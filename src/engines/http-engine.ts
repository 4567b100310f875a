/**
 * An `Engine` over HTTP: a `ChatProtocol` (OpenAI chat-completions or Ollama) on top of the shared
 * transport — an undici `Pool` per endpoint, an adaptive concurrency limit per endpoint, spreading,
 * prefix affinity and health (`EndpointSet`), transport retry (`sendWithRetry`), and a p-queue
 * that bounds calls in flight to `concurrency` per endpoint. Before a request is sent, the prompt is
 * checked against the model's context window where the server says it (`ContextWindow`); vLLM's
 * `priority` is sent when configured and the server accepts it.
 */
import PQueue from "p-queue";
import { ChainetteError } from "../errors.js";
import { AttemptDeadline, type AdaptiveTimeoutOptions } from "./attempt-deadline.js";
import type { EndpointState, Engine, EngineConfig, EngineEvent, GenerateRequest, GenerateResult } from "./engine.js";
import type { ChatProtocol } from "./chat-protocol.js";
import { ContextWindow } from "./context-window.js";
import { EndpointSet } from "./endpoint-set.js";
import { EngineRequestError, snippetOf } from "./engine-request-error.js";
import type { RetryOptions } from "./retry-policy.js";
import { sendWithRetry, type SentResponse } from "./send-with-retry.js";
import { prefixHash } from "./prefix-hash.js";

export interface HttpEngineOptions {
  /** The engine's resolved configuration (names an API key variable, never holds a key). */
  config: EngineConfig;
  protocol: ChatProtocol;
  urls: readonly string[];
  /** Sent as `Authorization: Bearer ...` only. */
  apiKey: string | undefined;
  concurrency: number;
  /** A fixed per-attempt limit; `undefined`: derived from observed latency (`AttemptDeadline`). */
  timeoutMs: number | undefined;
  /** Tuning of the derived limit. @default defaultAdaptiveTimeout */
  adaptiveTimeout?: Partial<AdaptiveTimeoutOptions> | undefined;
  /** Largest reply body accepted, in bytes. */
  maxResponseBytes: number;
  retry: RetryOptions;
  failureThreshold: number;
  probeIntervalMs: number;
  engineDownTimeoutMs: number;
  onEvent?: ((event: EngineEvent) => void) | undefined;
  /** Injected in tests only. @default Math.random */
  random?: (() => number) | undefined;
  /** Milliseconds between readings of a vLLM server's `/metrics`. @default 300 */
  metricsIntervalMs?: number | undefined;
}

/** vLLM's answer to a `priority` when it does not run priority scheduling. */
const priorityRefused = "Priority scheduling is not enabled";

export class HttpEngine implements Engine {
  readonly name: string;
  readonly config: EngineConfig;
  readonly #options: HttpEngineOptions;
  readonly #queue: PQueue;
  readonly #endpoints: EndpointSet;
  readonly #headers: Record<string, string>;
  readonly #deadline: AttemptDeadline;
  /** Present for servers that may say their context window (vllm_api, openai_compatible). */
  readonly #contextWindow: ContextWindow | undefined;
  /** `false` once a server refused `priority`; it is not sent again. */
  #sendPriority: boolean;
  #closed = false;

  constructor(options: HttpEngineOptions) {
    this.#options = options;
    this.name = options.config.name;
    this.config = Object.freeze({ ...options.config });
    const authorization: Record<string, string> =
      options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` };
    this.#headers = { "content-type": "application/json", accept: "application/json", ...authorization };
    const { config } = options;
    this.#queue = new PQueue({ concurrency: options.concurrency * options.urls.length });
    this.#sendPriority = config.priority !== undefined && (config.backend === "vllm_api" || config.backend === "openai_compatible");
    this.#deadline = new AttemptDeadline(options.timeoutMs, options.adaptiveTimeout ?? {});
    this.#endpoints = new EndpointSet({
      engine: this.name,
      urls: options.urls,
      probePath: options.protocol.probePath,
      probeHeaders: authorization,
      connections: options.concurrency,
      concurrency: {
        ceiling: options.concurrency,
        adaptive: config.adaptiveConcurrency ?? true,
        readMetrics: config.backend === "vllm_api" || config.backend === "openai_compatible",
        maxShare: config.maxShare,
        prefixAffinity: config.prefixAffinity ?? true,
        ...(options.metricsIntervalMs === undefined ? {} : { metricsIntervalMs: options.metricsIntervalMs }),
      },
      failureThreshold: options.failureThreshold,
      probeIntervalMs: options.probeIntervalMs,
      engineDownTimeoutMs: options.engineDownTimeoutMs,
      maxResponseBytes: options.maxResponseBytes,
      onEvent: options.onEvent,
    });
    const first = this.#endpoints.endpoints[0];
    this.#contextWindow =
      first !== undefined && (config.backend === "vllm_api" || config.backend === "openai_compatible")
        ? new ContextWindow({ engine: this.name, model: config.model, pool: first.pool, base: first.base, headers: authorization })
        : undefined;
  }

  generate(request: GenerateRequest): Promise<GenerateResult> {
    const window = this.#contextWindow;
    if (window === undefined || window.surelyFits(request)) return this.#enqueue(request);
    return window.check(request).then(() => this.#enqueue(request));
  }

  #enqueue(request: GenerateRequest): Promise<GenerateResult> {
    return this.#queue.add(() => this.#generate(request), request.signal === undefined ? {} : { signal: request.signal });
  }

  endpoints(): readonly EndpointState[] {
    return this.#endpoints.states();
  }

  /** Requests waiting for a free slot (not yet sent). */
  get pending(): number {
    return this.#queue.size + this.#endpoints.waiting;
  }

  /** Stops taking requests: queued calls reject with `ABORTED`; requests in flight finish first. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#endpoints.close();
  }

  async #generate(request: GenerateRequest): Promise<GenerateResult> {
    if (this.#closed) throw new ChainetteError("ABORTED", `Engine \`${this.name}\` was closed`);
    const { protocol, apiKey } = this.#options;
    const started = performance.now();
    const affinity = prefixHash(request.messages);
    let response = await this.#send(request, affinity, this.#sendPriority);
    if (response.retryWithoutPriority) {
      this.#sendPriority = false;
      response = await this.#send(request, affinity, false);
    }
    try {
      const reply = protocol.parseReply(JSON.parse(response.body), request);
      return { ...reply, attempts: response.attempts, latencyMs: performance.now() - started };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new EngineRequestError({
        engine: this.name,
        attempts: response.attempts,
        status: response.status,
        bodySnippet: snippetOf(response.body, apiKey),
        message: `Engine \`${this.name}\` sent a reply that could not be read: ${reason}`,
        cause: error,
      });
    }
  }

  /**
   * One request through `sendWithRetry`. With `priority`, a 400 saying the server does not run
   * priority scheduling comes back as `retryWithoutPriority` (the caller asks again without it).
   */
  async #send(request: GenerateRequest, affinity: number, priority: boolean): Promise<SentResponse & { retryWithoutPriority?: true }> {
    const { protocol, apiKey, config } = this.#options;
    const body = protocol.buildBody(request);
    if (priority && config.priority !== undefined) body.priority = config.priority;
    try {
      return await sendWithRetry({
        engine: this.name,
        endpoints: this.#endpoints,
        path: protocol.chatPath,
        body: JSON.stringify(body),
        headers: this.#headers,
        deadline: this.#deadline,
        maxResponseBytes: this.#options.maxResponseBytes,
        retry: this.#options.retry,
        signal: request.signal,
        secret: apiKey,
        onEvent: this.#options.onEvent,
        affinity,
        ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
      });
    } catch (error) {
      if (priority && error instanceof EngineRequestError && error.status === 400 && error.bodySnippet?.includes(priorityRefused) === true) {
        return { status: 400, body: "", attempts: error.attempts, retryWithoutPriority: true };
      }
      throw error;
    }
  }
}
