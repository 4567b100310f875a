/**
 * Before a run: ask each OpenAI-compatible or Ollama endpoint which models it serves, so a typo in
 * `model` is one clear error instead of a million 404 error records. An endpoint that cannot be
 * asked (down, no listing, auth) is not judged here: the run's retry and health logic takes over.
 */
import { undici } from "../load-on-demand.js";
import type { EngineConfig } from "./engine.js";

/** Returns a problem per endpoint that answers and does not serve the engine's model. */
export async function checkServedModel(config: EngineConfig, options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<string[]> {
  if (config.backend === "openai" || config.backend === "vllm_local" || config.endpoint === undefined) return [];
  const endpoints = typeof config.endpoint === "string" ? [config.endpoint] : config.endpoint;
  const env = options.env ?? process.env;
  const key = config.apiKeyEnv === undefined ? undefined : env[config.apiKeyEnv];
  const problems: string[] = [];
  await Promise.all(
    endpoints.map(async (endpoint) => {
      const served = await listModels(config.backend, endpoint, key, options.timeoutMs ?? 3000);
      if (served === undefined || served.length === 0) return;
      const names = new Set(served.flatMap((name) => [name, name.replace(/:latest$/, "")]));
      if (!names.has(config.model)) {
        problems.push(`engine \`${config.name}\`: ${hostOf(endpoint)} does not serve model \`${config.model}\` (it serves: ${served.slice(0, 10).join(", ")})`);
      }
    }),
  );
  return problems;
}

async function listModels(backend: EngineConfig["backend"], endpoint: string, key: string | undefined, timeoutMs: number): Promise<string[] | undefined> {
  const base = endpoint.replace(/\/+$/, "");
  const url = backend === "ollama_api" ? `${base}/api/tags` : `${base}/models`;
  try {
    const response = await undici().request(url, {
      headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return undefined;
    }
    const body = (await response.body.json()) as { data?: { id?: unknown }[]; models?: { name?: unknown }[] };
    const entries = backend === "ollama_api" ? (body.models ?? []).map((model) => model.name) : (body.data ?? []).map((model) => model.id);
    return entries.filter((name): name is string => typeof name === "string");
  } catch {
    return undefined;
  }
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return "the endpoint";
  }
}
