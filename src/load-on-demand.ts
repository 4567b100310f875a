/**
 * CommonJS dependencies loaded on first use, synchronously. A run's start-up time is paid on every
 * `run`, `inspect` and resume: an apply-only JSONL run never needs the HTTP client or the YAML
 * parser, so neither loads unless a step or an engines file asks for it.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export function onDemand<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}

export const undici = onDemand<typeof import("undici")>("undici");
export const yaml = onDemand<typeof import("yaml")>("yaml");
