/**
 * The run's events: one stream that the live view, the JSON logs and the counters all read, so
 * nothing is counted twice. Listeners are plain functions (no EventEmitter on the hot path).
 */
import type { EngineEvent } from "../engines/engine.js";

export type RunEvent =
  | EngineEvent
  | { type: "run-start"; total: number | undefined; resumedRows: number; nodes: readonly string[] }
  /** The input's row count became known after the start (a JSONL file counted in the background). */
  | { type: "total"; total: number }
  | { type: "rows-read"; count: number }
  | { type: "node-start"; node: string }
  /** `started` is true when a `node-start` preceded it (a step that sent a request). */
  | { type: "node-end"; node: string; status: "ok" | "failed" | "filtered"; started: boolean; latencyMs: number; inputTokens: number; outputTokens: number }
  /** A synchronous apply's whole micro-batch: counts by outcome and the mean latency per row. */
  | { type: "node-batch"; node: string; ok: number; failed: number; filtered: number; latencyMs: number }
  | { type: "repair"; node: string; rowId: string; reason: string }
  | { type: "commit"; rows: number; ok: number; failed: number; filtered: number; watermark: number }
  | { type: "stop-requested"; reason: string; graceMs: number }
  /** `--repair` dropped damaged or missing shards; `rows` root rows run again. */
  | { type: "shards-repair"; shards: readonly string[]; rows: number }
  | { type: "run-end"; status: RunStatus };

export type RunStatus = "complete" | "stopped" | "failed";

export type RunListener = (event: RunEvent) => void;

export class RunEvents {
  private readonly listeners: RunListener[] = [];

  on(listener: RunListener): () => void {
    this.listeners.push(listener);
    return () => {
      const position = this.listeners.indexOf(listener);
      if (position >= 0) this.listeners.splice(position, 1);
    };
  }

  readonly emit = (event: RunEvent): void => {
    for (const listener of this.listeners) listener(event);
  };
}
