/**
 * The run's Prometheus metrics (`run --metrics-port N`), folded from its events: rows by node and
 * outcome, requests by outcome, retries, request latency, tokens, finish reasons, endpoint health
 * and concurrency limits (every endpoint from its engine's start, so a dashboard has the series at
 * once), requests in flight, commits and their fsync and ledger times. `render()` writes the text
 * exposition format (version 0.0.4), every name prefixed `chainette_`.
 */
import type { RunEvent } from "../pipeline/events.js";

/** Request latency buckets, seconds (a chat request: from tens of ms to minutes). */
const REQUEST_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Commit time buckets, seconds (an fsync: from a fraction of a ms on NVMe to seconds on a busy disk). */
const COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const bucket = this.bounds.findIndex((bound) => value <= bound);
    if (bucket !== -1) this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
  }
}

/** A family of series keyed by their label values. */
class Family<T> {
  readonly series = new Map<string, { labels: Record<string, string>; value: T }>();
  constructor(private readonly make: () => T) {}

  has(labels: Record<string, string>): boolean {
    return this.series.has(JSON.stringify(labels));
  }

  get(labels: Record<string, string>): T {
    const key = JSON.stringify(labels);
    let entry = this.series.get(key);
    if (entry === undefined) this.series.set(key, (entry = { labels, value: this.make() }));
    return entry.value;
  }
}

class Counter {
  value = 0;
}

export class RunMetrics {
  private readonly rows = new Family(() => new Counter());
  private readonly requests = new Family(() => new Counter());
  private readonly retries = new Family(() => new Counter());
  private readonly latency = new Family(() => new Histogram(REQUEST_BUCKETS));
  private readonly tokens = new Family(() => new Counter());
  private readonly finishReasons = new Family(() => new Counter());
  private readonly inFlight = new Family(() => new Counter());
  private readonly endpointUp = new Family(() => new Counter());
  private readonly engineUp = new Family(() => new Counter());
  private readonly concurrencyLimit = new Family(() => new Counter());
  private readonly commitSync = new Histogram(COMMIT_BUCKETS);
  private readonly commitLedger = new Histogram(COMMIT_BUCKETS);
  private commits = 0;
  private committedRows = 0;
  private readRows = 0;
  private inputRows: number | undefined;
  private resumedRows = 0;
  private running = 0;

  readonly onEvent = (event: RunEvent): void => {
    switch (event.type) {
      case "run-start":
        this.inputRows = event.total;
        this.resumedRows = event.resumedRows;
        this.running = 1;
        break;
      case "total":
        this.inputRows = event.total;
        break;
      case "rows-read":
        this.readRows += event.count;
        break;
      case "node-start":
        this.inFlight.get({ node: event.node }).value++;
        break;
      case "node-end":
        this.rows.get({ node: event.node, outcome: event.status }).value++;
        if (event.started) {
          this.inFlight.get({ node: event.node }).value--;
          this.requests.get({ node: event.node, outcome: event.status === "ok" ? "ok" : "failed" }).value++;
          this.latency.get({ node: event.node }).observe(event.latencyMs / 1000);
          if (event.finishReason !== undefined) this.finishReasons.get({ node: event.node, reason: event.finishReason }).value++;
        }
        this.tokens.get({ node: event.node, kind: "input" }).value += event.inputTokens;
        this.tokens.get({ node: event.node, kind: "output" }).value += event.outputTokens;
        break;
      case "node-batch":
        for (const outcome of ["ok", "failed", "filtered"] as const) this.rows.get({ node: event.node, outcome }).value += event[outcome];
        break;
      case "request-retry":
        this.retries.get({ engine: event.engine, status: event.status === undefined ? "none" : String(event.status) }).value++;
        break;
      case "engine-start":
        // A vllm_local engine starts again once its server answers: what is known by then stays.
        if (!this.engineUp.has({ engine: event.engine })) this.engineUp.get({ engine: event.engine }).value = 1;
        for (const endpoint of event.endpoints) {
          const labels = { engine: event.engine, endpoint: endpoint.endpoint };
          if (!this.endpointUp.has(labels)) this.endpointUp.get(labels).value = endpoint.up ? 1 : 0;
          this.concurrencyLimit.get(labels).value = endpoint.limit;
        }
        break;
      case "concurrency-limit":
        this.concurrencyLimit.get({ engine: event.engine, endpoint: event.endpoint }).value = event.limit;
        break;
      case "endpoint-down":
        this.endpointUp.get({ engine: event.engine, endpoint: event.endpoint }).value = 0;
        break;
      case "endpoint-up":
        this.endpointUp.get({ engine: event.engine, endpoint: event.endpoint }).value = 1;
        break;
      case "engine-down":
        this.engineUp.get({ engine: event.engine }).value = 0;
        break;
      case "engine-up":
        this.engineUp.get({ engine: event.engine }).value = 1;
        break;
      case "commit":
        this.commits++;
        this.committedRows += event.rows;
        if (event.syncMs !== undefined) this.commitSync.observe(event.syncMs / 1000);
        if (event.ledgerMs !== undefined) this.commitLedger.observe(event.ledgerMs / 1000);
        break;
      case "run-end":
        this.running = 0;
        break;
      default:
        break;
    }
  };

  render(): string {
    const out: string[] = [];
    const scalar = (name: string, type: string, help: string, value: number): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${number(value)}`);
    };
    const family = (name: string, type: string, help: string, series: Family<Counter>): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const { labels, value } of series.series.values()) out.push(`${name}${labelText(labels)} ${number(value.value)}`);
    };
    const histogram = (name: string, help: string, series: Iterable<{ labels: Record<string, string>; value: Histogram }>): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
      for (const { labels, value } of series) {
        let cumulative = 0;
        value.bounds.forEach((bound, index) => {
          cumulative += value.counts[index] ?? 0;
          out.push(`${name}_bucket${labelText({ ...labels, le: String(bound) })} ${cumulative}`);
        });
        out.push(`${name}_bucket${labelText({ ...labels, le: "+Inf" })} ${value.count}`, `${name}_sum${labelText(labels)} ${number(value.sum)}`, `${name}_count${labelText(labels)} ${value.count}`);
      }
    };
    scalar("chainette_running", "gauge", "1 while the run's session is going, 0 once it ended.", this.running);
    scalar("chainette_input_rows", "gauge", "The input's row count, when known (-1 while unknown).", this.inputRows ?? -1);
    scalar("chainette_resumed_rows", "gauge", "Rows done by earlier sessions when this one started.", this.resumedRows);
    scalar("chainette_read_rows_total", "counter", "Input rows read by this session.", this.readRows);
    family("chainette_rows_total", "counter", "Rows each node finished, by outcome (ok, failed, filtered).", this.rows);
    family("chainette_requests_total", "counter", "Chat requests of each step, by outcome (ok, failed), repairs included in one row's request.", this.requests);
    family("chainette_request_retries_total", "counter", "Transport retries, by engine and HTTP status (none: no answer).", this.retries);
    histogram("chainette_request_duration_seconds", "Time a step took for one row, retries and repairs included.", this.latency.series.values());
    family("chainette_tokens_total", "counter", "Tokens by node and kind (input, output).", this.tokens);
    family("chainette_finish_reasons_total", "counter", "Finish reasons of each step's last reply.", this.finishReasons);
    family("chainette_requests_in_flight", "gauge", "Requests of each step in flight now (the concurrency in use).", this.inFlight);
    family("chainette_engine_up", "gauge", "1 from the engine's start, 0 while every endpoint of the engine is down.", this.engineUp);
    family("chainette_endpoint_up", "gauge", "1 from the engine's start, 0 while the endpoint is marked down and probed.", this.endpointUp);
    family("chainette_endpoint_concurrency_limit", "gauge", "Requests the endpoint may have in flight now: adaptive concurrency's limit from the starting one (the ceiling when fixed).", this.concurrencyLimit);
    scalar("chainette_commits_total", "counter", "Commits made by this session.", this.commits);
    scalar("chainette_committed_rows_total", "counter", "Root rows committed by this session.", this.committedRows);
    histogram("chainette_commit_fsync_seconds", "Time one commit spent making the shards durable (fdatasync).", [{ labels: {}, value: this.commitSync }]);
    histogram("chainette_commit_ledger_seconds", "Time one commit spent in its ledger transaction.", [{ labels: {}, value: this.commitLedger }]);
    return `${out.join("\n")}\n`;
  }
}

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([key, value]) => `${key}="${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}

function number(value: number): string {
  return Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN";
}
