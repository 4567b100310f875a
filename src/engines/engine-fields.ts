/**
 * The fields of an engine declaration, once: their name in TypeScript (`registerEngine`) and in the
 * engines YAML (the Chainette README's snake_case names), their zod 4 schema, and the words an
 * error uses for what was expected. Both validators are built from this table.
 */
import { z } from "zod";
import type { EngineConfig } from "./engine.js";

export const backends = ["vllm_api", "openai", "ollama_api", "vllm_local", "openai_compatible", "llamacpp"] as const;

/** What `registerEngine` and the YAML accept: an `EngineConfig` whose `backend` may be left out. */
export type EngineDeclaration = Omit<EngineConfig, "backend"> & { backend?: EngineConfig["backend"] };

export interface EngineField {
  /** Name in `EngineConfig`. */
  key: keyof EngineConfig;
  /** Name in the engines YAML. */
  yamlKey: string;
  schema: z.ZodType;
  /** What was expected, for "Expected `field` to be <expected>, got `value`". */
  expected: string;
  required?: true;
}

const httpUrl = z.url({ protocol: /^https?$/ });

export const engineFields: readonly EngineField[] = [
  { key: "name", yamlKey: "name", schema: z.string().regex(/^[\w.-]+$/), expected: "a name of letters, digits, `_`, `.` or `-`", required: true },
  { key: "backend", yamlKey: "backend", schema: z.enum(backends), expected: `one of ${backends.join(", ")}` },
  { key: "model", yamlKey: "model", schema: z.string().min(1), expected: "a non-empty string", required: true },
  {
    key: "endpoint",
    yamlKey: "endpoint",
    schema: z.union([httpUrl, z.array(httpUrl).min(1)]),
    expected: "an http(s) URL or a non-empty list of them",
  },
  {
    key: "apiKeyEnv",
    yamlKey: "api_key_env",
    schema: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
    expected: "the NAME of an environment variable (the key itself never goes in a config)",
  },
  { key: "concurrency", yamlKey: "concurrency", schema: z.int().min(1), expected: "an integer >= 1" },
  { key: "adaptiveConcurrency", yamlKey: "adaptive_concurrency", schema: z.boolean(), expected: "true or false" },
  { key: "maxShare", yamlKey: "max_share", schema: z.number().gt(0).max(1), expected: "a number > 0 and <= 1 (share of the server's slots)" },
  { key: "priority", yamlKey: "priority", schema: z.int(), expected: "an integer (vLLM request priority, lower first)" },
  { key: "prefixAffinity", yamlKey: "prefix_affinity", schema: z.boolean(), expected: "true or false" },
  { key: "timeoutMs", yamlKey: "timeout_ms", schema: z.int().min(1), expected: "an integer >= 1 (milliseconds)" },
  { key: "maxResponseBytes", yamlKey: "max_response_bytes", schema: z.int().min(1024), expected: "an integer >= 1024 (bytes)" },
  { key: "maxRetries", yamlKey: "max_retries", schema: z.int().min(0), expected: "an integer >= 0" },
  { key: "pricePerMillionInputTokens", yamlKey: "price_per_million_input_tokens", schema: z.number().min(0), expected: "a number >= 0 (price per million input tokens)" },
  { key: "pricePerMillionOutputTokens", yamlKey: "price_per_million_output_tokens", schema: z.number().min(0), expected: "a number >= 0 (price per million output tokens)" },
  { key: "dtype", yamlKey: "dtype", schema: z.string().min(1), expected: "a non-empty string" },
  {
    key: "gpuMemoryUtilization",
    yamlKey: "gpu_memory_utilization",
    schema: z.number().gt(0).max(1),
    expected: "a number > 0 and <= 1",
  },
  { key: "enableReasoning", yamlKey: "enable_reasoning", schema: z.boolean(), expected: "true or false" },
  { key: "devices", yamlKey: "devices", schema: z.array(z.int().min(0)), expected: "a list of integers >= 0" },
  { key: "lazy", yamlKey: "lazy", schema: z.boolean(), expected: "true or false" },
  {
    key: "reasoningParser",
    yamlKey: "reasoning_parser",
    schema: z.string().regex(/^[\w.-]+$/),
    expected: "a vLLM reasoning parser name (e.g. deepseek_r1, qwen3)",
  },
  { key: "startupTimeoutMs", yamlKey: "startup_timeout_ms", schema: z.int().min(1), expected: "an integer >= 1 (milliseconds)" },
  { key: "port", yamlKey: "port", schema: z.int().min(1).max(65535), expected: "a port number from 1 to 65535" },
  { key: "idleTimeout", yamlKey: "idle_timeout", schema: z.number().min(0), expected: "a number of seconds >= 0" },
  { key: "threads", yamlKey: "threads", schema: z.int().min(1).max(1024), expected: "an integer >= 1 (CPU threads)" },
  { key: "contextSize", yamlKey: "context_size", schema: z.int().min(16), expected: "an integer >= 16 (tokens per sequence)" },
  { key: "gpu", yamlKey: "gpu", schema: z.boolean(), expected: "true or false" },
];

function objectSchema(naming: "key" | "yamlKey"): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const field of engineFields) shape[field[naming]] = field.required === true ? field.schema : field.schema.optional();
  return z.strictObject(shape);
}

/** Validates a declaration written in TypeScript (`registerEngine`). */
export const moduleDeclarationSchema = objectSchema("key");
/** Validates one `engines:` entry of the YAML (snake_case names). */
export const yamlDeclarationSchema = objectSchema("yamlKey");
