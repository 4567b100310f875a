/**
 * The mutable state one simulator shares between its route handlers: options, the performance
 * model, the fault planner, metrics and the counters behind `Simulator.stats()`.
 */
import type { ServerResponse } from "node:http";
import { FaultPlanner, REQUEST_FAULT_KINDS, type FaultKind, type FaultOptions } from "./faults.js";
import { Metrics } from "./metrics.js";
import type { ResolvedOptions } from "./options.js";
import { Scheduler } from "./scheduler.js";

/** Counters returned by `Simulator.stats()`. */
export interface SimulatorStats {
  /** Requests received, by route (`/v1/chat/completions`, `/health`, ...; unknown paths under `other`). */
  requests: Record<string, number>;
  /** Chat requests answered with a full reply (stream or not). */
  completed: number;
  /** Faults injected, by kind (`dead` and `slowStart` count requests refused for those states). */
  faults: Record<FaultKind, number>;
  /** Requests the performance model is running now. */
  running: number;
  /** Requests waiting for a slot now. */
  waiting: number;
  /** Requests held open by the `hang` fault now. */
  hanging: number;
  /** Bytes of `hugeReply` bodies written so far (the client's reading paces the writes). */
  hugeReplyBytesSent: number;
}

export class SimulatorState {
  readonly options: ResolvedOptions;
  readonly scheduler: Scheduler;
  readonly metrics: Metrics;
  planner: FaultPlanner;
  readonly hanging = new Set<ServerResponse>();
  readonly requests: Record<string, number> = {};
  completed = 0;
  hugeReplyBytesSent = 0;
  readonly faults: Record<FaultKind, number>;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.scheduler = new Scheduler(options);
    this.metrics = new Metrics(options.model);
    this.planner = new FaultPlanner(options.faults, options.seed);
    this.faults = Object.fromEntries([...REQUEST_FAULT_KINDS, "dead", "slowStart"].map((kind) => [kind, 0])) as Record<FaultKind, number>;
  }

  /** Replaces the fault plan; schedules and the slow-start clock restart from now. */
  setFaults(faults: FaultOptions): void {
    this.planner = new FaultPlanner(faults, this.options.seed);
  }

  countRequest(route: string): void {
    this.requests[route] = (this.requests[route] ?? 0) + 1;
  }

  stats(): SimulatorStats {
    return {
      requests: { ...this.requests },
      completed: this.completed,
      faults: { ...this.faults },
      running: this.scheduler.running,
      waiting: this.scheduler.waiting,
      hanging: this.hanging.size,
      hugeReplyBytesSent: this.hugeReplyBytesSent,
    };
  }
}
