/**
 * Prometheus metrics under vLLM's names. Latency histograms record model-clock seconds (what the
 * simulated GPU server would report), so they read the same whatever the time scale.
 */
import type { FinishReason } from "./reply-planner.js";

const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const E2E_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

class Histogram {
  readonly buckets: readonly number[];
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(buckets: readonly number[]) {
    this.buckets = buckets;
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const index = this.buckets.findIndex((bound) => value <= bound);
    if (index >= 0) this.counts[index] = (this.counts[index] ?? 0) + 1;
  }

  render(name: string, labels: string): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    this.buckets.forEach((bound, index) => {
      cumulative += this.counts[index] ?? 0;
      lines.push(`${name}_bucket{${labels},le="${bound.toFixed(bound < 1 ? 3 : 1)}"} ${cumulative}`);
    });
    lines.push(`${name}_bucket{${labels},le="+Inf"} ${this.count}`, `${name}_sum{${labels}} ${this.sum}`, `${name}_count{${labels}} ${this.count}`);
    return lines;
  }
}

/** What the metrics page reads from the scheduler at scrape time. */
export interface LoadGauges {
  running: number;
  waiting: number;
  kvCacheUsage: number;
  /** Prompt tokens looked up in the prefix cache, and of those found (prefix caching on only). */
  prefixCache?: { queriedTokens: number; hitTokens: number };
}

export class Metrics {
  readonly #modelName: string;
  promptTokens = 0;
  generationTokens = 0;
  readonly success: Record<FinishReason, number> = { stop: 0, length: 0 };
  readonly #timeToFirstToken = new Histogram(TTFT_BUCKETS);
  readonly #endToEnd = new Histogram(E2E_BUCKETS);

  constructor(modelName: string) {
    this.#modelName = modelName;
  }

  /** Records a finished request; times in model milliseconds. */
  recordSuccess(reply: { promptTokens: number; completionTokens: number; finishReason: FinishReason }, ttftMs: number, e2eMs: number): void {
    this.promptTokens += reply.promptTokens;
    this.generationTokens += reply.completionTokens;
    this.success[reply.finishReason]++;
    this.#timeToFirstToken.observe(ttftMs / 1000);
    this.#endToEnd.observe(e2eMs / 1000);
  }

  /** The Prometheus text exposition (format 0.0.4). */
  render(load: LoadGauges): string {
    const labels = `model_name="${this.#modelName.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, values: string[]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...values);
    };
    metric("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", [`vllm:num_requests_running{${labels}} ${load.running}`]);
    metric("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", [`vllm:num_requests_waiting{${labels}} ${load.waiting}`]);
    metric("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", [`vllm:kv_cache_usage_perc{${labels}} ${load.kvCacheUsage}`]);
    if (load.prefixCache !== undefined) {
      metric("vllm:prefix_cache_queries_total", "counter", "Prefix cache queries, in terms of number of queried tokens.", [`vllm:prefix_cache_queries_total{${labels}} ${load.prefixCache.queriedTokens}`]);
      metric("vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.", [`vllm:prefix_cache_hits_total{${labels}} ${load.prefixCache.hitTokens}`]);
    }
    metric("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", [`vllm:prompt_tokens_total{${labels}} ${this.promptTokens}`]);
    metric("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", [`vllm:generation_tokens_total{${labels}} ${this.generationTokens}`]);
    metric("vllm:request_success_total", "counter", "Count of successfully processed requests.", [
      `vllm:request_success_total{finished_reason="stop",${labels}} ${this.success.stop}`,
      `vllm:request_success_total{finished_reason="length",${labels}} ${this.success.length}`,
    ]);
    metric("vllm:time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds.", this.#timeToFirstToken.render("vllm:time_to_first_token_seconds", labels));
    metric("vllm:e2e_request_latency_seconds", "histogram", "Histogram of end to end request latency in seconds.", this.#endToEnd.render("vllm:e2e_request_latency_seconds", labels));
    return `${lines.join("\n")}\n`;
  }
}
