/**
 * The engine interface: a plain type with one method that matters (`generate`), like the AI SDK's
 * language-model spec. Backends (vllm_api, openai, ollama_api, ...) implement it; transport retry,
 * endpoint spreading and health tracking live inside an engine, schema repair (re-ask) lives in the
 * step executor (`src/run`), so the two mechanisms stay separate.
 */

export type Backend = "vllm_api" | "openai" | "ollama_api" | "vllm_local" | "openai_compatible" | "llamacpp";

import type { SamplingParams } from "../core/sampling.js";

export type { SamplingParams };

export interface EngineConfig {
  name: string;
  backend: Backend;
  /** The served model's name; for `llamacpp`, the path of a GGUF file. */
  model: string;
  /** Base URL(s) ending in `/v1` for OpenAI-style servers; several spread the load. */
  endpoint?: string | string[];
  /** Name of the environment variable holding the API key. Defaults: OPENAI_API_KEY for openai. */
  apiKeyEnv?: string;
  /**
   * The most requests in flight to each endpoint of this engine. With adaptive concurrency (the
   * default) it is the ceiling: the limit follows each server's load below it.
   * @default 256 (vLLM's max-num-seqs). For `llamacpp`: the parallel sequences of the model's
   * context (each its own KV cache); @default 4 there, and `--concurrency` does not apply.
   */
  concurrency?: number;
  /**
   * Adapt each endpoint's limit to its server's load: from vLLM's `/metrics` (keep its waiting
   * queue short but never empty), else back off on 429/503 and latency growth. `false`: always
   * `concurrency`. @default true
   */
  adaptiveConcurrency?: boolean;
  /** A good neighbour on a shared vLLM server: use at most this share (0-1] of its slots. @default 1 */
  maxShare?: number;
  /**
   * vLLM's request `priority` (lower is served first), sent where the server runs
   * `--scheduling-policy priority` (a server that refuses it is asked again without it, once).
   * A background job sets a high number. @default not sent
   */
  priority?: number;
  /** Requests whose prompts start alike go to the same endpoint where load allows (prefix cache hits). @default true */
  prefixAffinity?: boolean;
  /**
   * Per-attempt timeout in milliseconds, fixed. Without it the limit follows observed latency:
   * 3 x p99 of recent successful attempts, within 10 s - 600 s (600 s until 20 succeeded), doubled
   * for each earlier timed-out attempt of the same request (see attempt-deadline.ts).
   */
  timeoutMs?: number;
  /** Largest reply body accepted; a larger reply fails the request (`RESPONSE_TOO_LARGE`). @default 16_777_216 (16 MiB) */
  maxResponseBytes?: number;
  /** Transport retries per request (429, 5xx, connection errors, timeouts). @default 6 */
  maxRetries?: number;
  /** Price per million prompt tokens, for `run --estimate` (any currency; never sent anywhere). */
  pricePerMillionInputTokens?: number;
  /** Price per million completion tokens, for `run --estimate`. */
  pricePerMillionOutputTokens?: number;
  // vllm_local only
  dtype?: string;
  gpuMemoryUtilization?: number;
  enableReasoning?: boolean;
  devices?: number[];
  lazy?: boolean;
  /** vLLM's `--reasoning-parser` (e.g. `deepseek_r1`, `qwen3`); `enableReasoning` needs it. */
  reasoningParser?: string;
  /** How long a `vllm serve` may take to answer `GET /health` with 200. @default 900_000 */
  startupTimeoutMs?: number;
  /** Port of 127.0.0.1 the server listens on. @default a free port */
  port?: number;
  /** Seconds a managed server with no live user keeps running (0: stop with its last user). @default 180 */
  idleTimeout?: number;
  // llamacpp only
  /** CPU threads of the llama.cpp context. @default 1 on <= 2 cores, else half the cores */
  threads?: number;
  /** Tokens per sequence. @default as much as memory allows, at most 4096 and the model's trained context */
  contextSize?: number;
  /** Offload layers to a GPU (node-llama-cpp's CUDA/Vulkan/Metal builds, when installed). @default false */
  gpu?: boolean;
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface GenerateRequest {
  messages: ChatMessage[];
  sampling: SamplingParams;
  /** Guided JSON decoding: the engine asks the server for output matching this JSON Schema. */
  schema?: { name: string; jsonSchema: Record<string, unknown> };
  signal?: AbortSignal;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface GenerateResult {
  text: string;
  /** `reasoning_content` / `reasoning` from reasoning models, when the server sends it. */
  reasoning?: string;
  finishReason: string;
  usage: TokenUsage;
  requestId?: string;
  /** Transport attempts this result took (1 = first try). */
  attempts: number;
  latencyMs: number;
}

/** One endpoint of an engine as it is now: its health and its concurrency limit. */
export interface EndpointState {
  /** The base URL, with any credentials redacted. */
  endpoint: string;
  up: boolean;
  /** Requests it may have in flight now (adaptive concurrency's limit; the ceiling when fixed). */
  limit: number;
  policy: "queue" | "aimd" | "fixed";
}

/** Events an engine reports (retries, endpoint health) so the run can count and show them. */
export type EngineEvent =
  /**
   * The run created the engine: its endpoints and their starting limits, so a dashboard has their
   * series before any outage or limit change. A `vllm_local` engine says it again, with its
   * server's endpoint, once that server answers; an in-process engine (llamacpp) has none.
   */
  | { type: "engine-start"; engine: string; endpoints: readonly EndpointState[] }
  | {
      type: "request-retry";
      engine: string;
      /** The attempt that failed (1 = first try); the next one follows after `delayMs`. */
      attempt: number;
      status?: number;
      reason: string;
      delayMs: number;
      /** The endpoint that failed, with any credentials in the URL redacted. */
      endpoint?: string;
    }
  /** Every endpoint of the engine is down; calls wait (up to `engineDownTimeoutMs`). Once per outage. */
  | { type: "engine-down"; engine: string; reason: string }
  /** An endpoint answered again after the engine was down. */
  | { type: "engine-up"; engine: string }
  /** One endpoint failed `failureThreshold` requests in a row and is probed until it answers. */
  | { type: "endpoint-down"; engine: string; endpoint: string; reason: string }
  | { type: "endpoint-up"; engine: string; endpoint: string }
  /**
   * The requests one endpoint may have in flight changed (adaptive concurrency): `policy` says what
   * decides it (`queue`: the vLLM server's queue from `/metrics`; `aimd`: 429/503 and latency;
   * `fixed`: adaptive concurrency off), `slots` the server's slot count when `/metrics` shows it.
   */
  | { type: "concurrency-limit"; engine: string; endpoint: string; limit: number; policy: "queue" | "aimd" | "fixed"; slots?: number };

export interface Engine {
  readonly name: string;
  readonly config: EngineConfig;
  /**
   * Sends one chat request, retrying transport failures. Rejects with a `ChainetteError`:
   * `ENGINE_REQUEST` (row-level: the row gets an error record carrying `status`/`attempts`) or
   * `ENGINE_DOWN` (infrastructure: the run stops, resumably).
   */
  generate(request: GenerateRequest): Promise<GenerateResult>;
  close(): Promise<void>;
  /** Its endpoints now (an engine that talks to servers; none known yet for a `vllm_local` engine whose server is starting). */
  endpoints?(): readonly EndpointState[];
}
