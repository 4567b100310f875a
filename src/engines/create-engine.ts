/**
 * `createEngine(config, options)`: the one place that turns a resolved `EngineConfig` into a live
 * `Engine`. Fills backend defaults (endpoints, key variable), reads the API key from the
 * environment. A `vllm_local` engine is a `LocalVllmEngine`: it leases a managed `vllm serve` from
 * the broker (a running one of the same model and options, or a new one), then talks to it as a
 * `vllm_api` engine.
 */
import { ChainetteError } from "../errors.js";
import type { ChatProtocol } from "./chat-protocol.js";
import type { Engine, EngineConfig, EngineEvent } from "./engine.js";
import { checkEngineDeclaration, engineLabel } from "./engine-declaration.js";
import { HttpEngine } from "./http-engine.js";
import { LlamaCppEngine } from "./llamacpp-engine.js";
import { LocalVllmEngine } from "./local-vllm-engine.js";
import { createOllamaChatProtocol } from "./ollama-chat-protocol.js";
import { createOpenAiChatProtocol } from "./openai-chat-protocol.js";
import type { AdaptiveTimeoutOptions } from "./attempt-deadline.js";
import { defaultRetryOptions, type RetryOptions } from "./retry-policy.js";

export interface CreateEngineOptions {
  /** Receives `request-retry`, `endpoint-down`/`-up`, `engine-down`/`-up`, `concurrency-limit`, and a `vllm_local` engine's `engine-start` once its server answers. */
  onEvent?: (event: EngineEvent) => void;
  /** Warnings about ignored fields (a pino logger fits). The library is silent without one. */
  logger?: { warn(fields: object, message: string): void };
  /** How long calls wait while every endpoint is down before `ENGINE_DOWN`. @default 300_000 */
  engineDownTimeoutMs?: number;
  /** Milliseconds between health probes of a down endpoint. @default 1000 */
  probeIntervalMs?: number;
  /** Consecutive transport failures that mark an endpoint down. @default 3 */
  failureThreshold?: number;
  /**
   * Tuning of the per-attempt limit derived from latency when the config sets no `timeoutMs`
   * (floor, ceiling, multiplier of the p99, samples needed). @default defaultAdaptiveTimeout
   */
  adaptiveTimeout?: Partial<AdaptiveTimeoutOptions>;
  /** Backoff tuning; `maxRetries` comes from the config. @default defaultRetryOptions */
  retry?: Partial<Omit<RetryOptions, "maxRetries">>;
  /** Where API keys are read. @default process.env */
  env?: Record<string, string | undefined>;
  /** Who uses a `vllm_local` engine's managed server, as `ps` shows it (a run's OUTDIR). */
  usedBy?: string;
  /** Jitter source, injected in tests only. @default Math.random */
  random?: () => number;
}

/** Largest reply body an engine accepts unless its config says otherwise: 16 MiB. */
export const defaultMaxResponseBytes = 16 * 1024 * 1024;

/** Default base URLs when a declaration names none. */
export const defaultEndpoints: Partial<Record<EngineConfig["backend"], string>> = {
  vllm_api: "http://localhost:8000/v1",
  openai: "https://api.openai.com/v1",
  ollama_api: "http://localhost:11434",
};

/** Fields that only a vllm_local engine (a `vllm serve` chainette-stream starts) can honour. */
const localOnlyFields = ["dtype", "gpuMemoryUtilization", "enableReasoning", "devices", "lazy", "reasoningParser", "startupTimeoutMs", "port", "idleTimeout"] as const;
/** Fields that only a llamacpp engine (a GGUF model in a worker process) honours. */
const llamaCppOnlyFields = ["threads", "contextSize", "gpu"] as const;
/** Fields of a server connection, which a llamacpp engine has none of. */
const serverOnlyFields = ["endpoint", "apiKeyEnv", "timeoutMs", "maxResponseBytes", "maxRetries"] as const;

export function createEngine(config: EngineConfig, options: CreateEngineOptions = {}): Engine {
  const check = checkEngineDeclaration(config, "module");
  if (!check.ok) {
    throw new ChainetteError("ENGINE_CONFIG", `Invalid engine ${engineLabel(config)}:\n  ${check.problems.join("\n  ")}`);
  }
  const { name, backend } = config;
  if (backend === "llamacpp") {
    const ignored = [...localOnlyFields, ...serverOnlyFields].filter((field) => config[field] !== undefined);
    if (ignored.length > 0) options.logger?.warn({ engine: name, ignored }, `${ignored.join(", ")}: engine ${name} (llamacpp, an in-process model) ignores them`);
    return new LlamaCppEngine(config);
  }
  if (backend === "vllm_local") {
    return new LocalVllmEngine(config, {
      connect: (served) => {
        const remote: EngineConfig = { ...served };
        for (const field of localOnlyFields) delete remote[field];
        const engine = createEngine(remote, options);
        options.onEvent?.({ type: "engine-start", engine: name, endpoints: engine.endpoints?.() ?? [] });
        return engine;
      },
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.usedBy === undefined ? {} : { usedBy: options.usedBy }),
    });
  }
  const endpoint = config.endpoint ?? defaultEndpoints[backend];
  if (endpoint === undefined) {
    throw new ChainetteError("ENGINE_CONFIG", `Engine \`${name}\` (backend ${backend}) needs an \`endpoint\``);
  }
  const ignored = localOnlyFields.filter((field) => config[field] !== undefined);
  if (ignored.length > 0) {
    options.logger?.warn({ engine: name, ignored }, `${ignored.join(", ")}: honoured by vllm_local only; engine ${name} (${backend}) ignores them`);
  }
  const llamaCppIgnored = llamaCppOnlyFields.filter((field) => config[field] !== undefined);
  if (llamaCppIgnored.length > 0) {
    options.logger?.warn({ engine: name, ignored: llamaCppIgnored }, `${llamaCppIgnored.join(", ")}: honoured by llamacpp only; engine ${name} (${backend}) ignores them`);
  }
  const protocol: ChatProtocol =
    backend === "ollama_api" ? createOllamaChatProtocol(config.model) : createOpenAiChatProtocol(backend, config.model);
  return new HttpEngine({
    config: { ...config },
    protocol,
    urls: typeof endpoint === "string" ? [endpoint] : endpoint,
    apiKey: readApiKey(config, options.env ?? process.env),
    concurrency: config.concurrency ?? 256,
    timeoutMs: config.timeoutMs,
    adaptiveTimeout: options.adaptiveTimeout,
    maxResponseBytes: config.maxResponseBytes ?? defaultMaxResponseBytes,
    retry: { ...defaultRetryOptions, ...options.retry, maxRetries: config.maxRetries ?? defaultRetryOptions.maxRetries },
    failureThreshold: positiveInteger("failureThreshold", options.failureThreshold ?? 3),
    probeIntervalMs: positiveInteger("probeIntervalMs", options.probeIntervalMs ?? 1000),
    engineDownTimeoutMs: positiveInteger("engineDownTimeoutMs", options.engineDownTimeoutMs ?? 300_000),
    onEvent: options.onEvent,
    random: options.random,
  });
}

function readApiKey(config: EngineConfig, env: Record<string, string | undefined>): string | undefined {
  const variable = config.apiKeyEnv ?? (config.backend === "openai" ? "OPENAI_API_KEY" : undefined);
  if (variable === undefined) return undefined;
  const key = env[variable];
  if (key === undefined || key === "") {
    throw new ChainetteError(
      "ENGINE_CONFIG",
      `Engine \`${config.name}\` reads its API key from the environment variable ${variable}, which is not set`,
    );
  }
  return key;
}

function positiveInteger(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ChainetteError("USAGE", `Expected \`${option}\` to be an integer >= 1, got \`${value}\``);
  }
  return value;
}
