import type { ChainPlan } from "../core/plan.js";
import { createEngine, type CreateEngineOptions } from "../engines/create-engine.js";
import type { Engine, EngineConfig } from "../engines/engine.js";
import { checkDeviceClaims } from "../engines/server-broker.js";

/**
 * Creates the engines the plan's steps use (an unused declaration is never contacted), and reports
 * each (`engine-start`: its endpoints and their starting limits) to `onEvent`.
 * `defaultConcurrency` (`--concurrency`) applies to engines that do not set their own, except
 * `llamacpp` ones: their concurrency is parallel sequences, each a KV cache in memory. `vllm_local`
 * engines claiming the same GPUs (each other's, or a running server's) are refused before any starts.
 */
export function createPlanEngines(plan: ChainPlan, configs: readonly EngineConfig[], options: CreateEngineOptions & { defaultConcurrency?: number }): Map<string, Engine> {
  const used = new Set(plan.nodes.flatMap((node) => (node.kind === "step" ? [node.engineName] : [])));
  const engines = new Map<string, Engine>();
  const { defaultConcurrency, ...createOptions } = options;
  checkDeviceClaims(configs.filter((config) => used.has(config.name)), options.env);
  try {
    for (const config of configs) {
      if (!used.has(config.name)) continue;
      const withConcurrency = config.concurrency === undefined && defaultConcurrency !== undefined && config.backend !== "llamacpp" ? { ...config, concurrency: defaultConcurrency } : config;
      const engine = createEngine(withConcurrency, createOptions);
      engines.set(config.name, engine);
      options.onEvent?.({ type: "engine-start", engine: config.name, endpoints: engine.endpoints?.() ?? [] });
    }
  } catch (error) {
    void closeEngines(engines);
    throw error;
  }
  return engines;
}

export async function closeEngines(engines: ReadonlyMap<string, Engine>): Promise<void> {
  await Promise.allSettled([...engines.values()].map((engine) => engine.close()));
}
