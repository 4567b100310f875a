/**
 * An engine configuration fit for graph.json and logs. A config names the environment variable that
 * holds a key (`apiKeyEnv`), never the key, so what needs hiding is credentials inside endpoint URLs
 * (`https://user:password@host`, `?api-key=...`).
 */
import { displayUrl } from "./display-url.js";
import type { EngineConfig } from "./engine.js";

export function redactEngineConfig(config: EngineConfig): EngineConfig {
  const { endpoint } = config;
  const redacted: EngineConfig = { ...config };
  if (typeof endpoint === "string") redacted.endpoint = displayUrl(endpoint);
  else if (Array.isArray(endpoint)) redacted.endpoint = endpoint.map(displayUrl);
  if (config.devices !== undefined) redacted.devices = [...config.devices];
  return redacted;
}
