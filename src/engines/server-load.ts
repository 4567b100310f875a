/**
 * What a vLLM server's `/metrics` page says about its load: requests waiting for a slot, requests
 * running, KV-cache use. Read from Prometheus text (format 0.0.4), summed over label sets (one per
 * served model, or per engine of a data-parallel server).
 */

export interface ServerLoad {
  /** `vllm:num_requests_waiting`: requests queued for a slot. */
  waiting: number;
  /** `vllm:num_requests_running`: requests in the batch. */
  running: number;
  /** `vllm:kv_cache_usage_perc` (older vLLM: `vllm:gpu_cache_usage_perc`), 0-1; absent when not exported. */
  kvCacheUsage: number | undefined;
}

const gauges = {
  "vllm:num_requests_waiting": "waiting",
  "vllm:num_requests_running": "running",
  "vllm:kv_cache_usage_perc": "kvCacheUsage",
  "vllm:gpu_cache_usage_perc": "kvCacheUsage",
} as const;

/** The load in a `/metrics` page, or `undefined` when it lacks vLLM's waiting and running gauges. */
export function parseServerLoad(text: string): ServerLoad | undefined {
  const sums: Partial<Record<"waiting" | "running" | "kvCacheUsage", number>> = {};
  const counts: Partial<Record<"kvCacheUsage", number>> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("vllm:")) continue;
    const nameEnd = line.search(/[{\s]/);
    const name = nameEnd < 0 ? line : line.slice(0, nameEnd);
    const field = (gauges as Record<string, "waiting" | "running" | "kvCacheUsage" | undefined>)[name];
    if (field === undefined) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (!Number.isFinite(value)) continue;
    sums[field] = (sums[field] ?? 0) + value;
    if (field === "kvCacheUsage") counts.kvCacheUsage = (counts.kvCacheUsage ?? 0) + 1;
  }
  if (sums.waiting === undefined || sums.running === undefined) return undefined;
  const kv = sums.kvCacheUsage === undefined ? undefined : sums.kvCacheUsage / Math.max(1, counts.kvCacheUsage ?? 1);
  return { waiting: sums.waiting, running: sums.running, kvCacheUsage: kv };
}
