/**
 * Live counters folded from the run's events: the one place the progress view and the JSON logs
 * read, so every number has one source.
 */
import type { RunEvent } from "../pipeline/events.js";

export interface NodeCounters {
  done: number;
  ok: number;
  failed: number;
  filtered: number;
  inFlight: number;
  inputTokens: number;
  outputTokens: number;
}

export class RunStats {
  readonly startedAt = performance.now();
  total: number | undefined;
  resumed = 0;
  read = 0;
  committed = 0;
  ok = 0;
  failed = 0;
  filtered = 0;
  retries = 0;
  repairs = 0;
  enginesDown = new Set<string>();
  stopping: string | undefined;
  /** The current concurrency limit of each endpoint (adaptive concurrency), by "engine endpoint". */
  readonly limits = new Map<string, { engine: string; endpoint: string; limit: number; policy: string }>();
  readonly nodes = new Map<string, NodeCounters>();
  /** (time, committed) samples for the rate over the last seconds. */
  private readonly samples: [number, number][] = [];

  readonly onEvent = (event: RunEvent): void => {
    switch (event.type) {
      case "run-start":
        this.total = event.total;
        this.resumed = event.resumedRows;
        for (const node of event.nodes) this.node(node);
        break;
      case "total":
        this.total = event.total;
        break;
      case "rows-read":
        this.read += event.count;
        break;
      case "node-start":
        this.node(event.node).inFlight++;
        break;
      case "node-end": {
        const node = this.node(event.node);
        node.done++;
        node[event.status]++;
        node.inputTokens += event.inputTokens;
        node.outputTokens += event.outputTokens;
        if (event.started) node.inFlight--;
        break;
      }
      case "node-batch": {
        const node = this.node(event.node);
        node.done += event.ok + event.failed + event.filtered;
        node.ok += event.ok;
        node.failed += event.failed;
        node.filtered += event.filtered;
        break;
      }
      case "commit":
        this.committed += event.rows;
        this.ok += event.ok;
        this.failed += event.failed;
        this.filtered += event.filtered;
        this.samples.push([performance.now(), this.committed]);
        if (this.samples.length > 64) this.samples.shift();
        break;
      case "request-retry":
        this.retries++;
        break;
      case "concurrency-limit":
        this.limits.set(`${event.engine} ${event.endpoint}`, { engine: event.engine, endpoint: event.endpoint, limit: event.limit, policy: event.policy });
        break;
      case "repair":
        this.repairs++;
        break;
      case "engine-down":
        this.enginesDown.add(event.engine);
        break;
      case "engine-up":
        this.enginesDown.delete(event.engine);
        break;
      case "stop-requested":
        this.stopping = event.reason;
        break;
      default:
        break;
    }
  };

  node(id: string): NodeCounters {
    let counters = this.nodes.get(id);
    if (counters === undefined) {
      counters = { done: 0, ok: 0, failed: 0, filtered: 0, inFlight: 0, inputTokens: 0, outputTokens: 0 };
      this.nodes.set(id, counters);
    }
    return counters;
  }

  /** Committed root rows per second over the last ~10 s (whole run before that). */
  rate(): number {
    const now = performance.now();
    const recent = this.samples.filter(([time]) => now - time <= 10_000);
    const first = recent[0];
    const last = recent.at(-1);
    if (first && last && last[0] > first[0]) return ((last[1] - first[1]) / (last[0] - first[0])) * 1000;
    const elapsed = now - this.startedAt;
    return elapsed > 0 ? (this.committed / elapsed) * 1000 : 0;
  }

  /** Seconds since this session started (a resumed run counts from its resume). */
  elapsedSeconds(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  tokensPerSecond(): number {
    let tokens = 0;
    for (const node of this.nodes.values()) tokens += node.outputTokens;
    const elapsed = performance.now() - this.startedAt;
    return elapsed > 0 ? (tokens / elapsed) * 1000 : 0;
  }

  /** Seconds left, when the total is known and the rate is positive. */
  etaSeconds(): number | undefined {
    if (this.total === undefined) return undefined;
    const rate = this.rate();
    const left = this.total - this.resumed - this.committed;
    return rate > 0 && left >= 0 ? left / rate : undefined;
  }
}
