/** The engine layer's public names (named re-exports; the package entry point picks from these). */
export type {
  Backend,
  ChatMessage,
  EndpointState,
  Engine,
  EngineConfig,
  EngineEvent,
  GenerateRequest,
  GenerateResult,
  SamplingParams,
  TokenUsage,
} from "./engine.js";
export { createEngine, defaultEndpoints, type CreateEngineOptions } from "./create-engine.js";
export { EngineRequestError } from "./engine-request-error.js";
export { backends, type EngineDeclaration } from "./engine-fields.js";
export { clearRegisteredEngines, registerEngine, registeredEngines } from "./engine-registry.js";
export { loadEnginesYaml, parseEnginesYaml } from "./engines-yaml.js";
export { parseEndpointOverride, resolveEngineConfigs, type ResolveEngineConfigsOptions } from "./resolve-engine-configs.js";
export { redactEngineConfig } from "./redact-engine-config.js";
export { defaultRetryOptions, type RetryOptions } from "./retry-policy.js";
export { dropNullOptionals, toOpenAiStrictSchema } from "./openai-strict-schema.js";
