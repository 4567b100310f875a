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
  /** `started` is true when a `node-start` preceded it (a step that sent a request); `finishReason`, its last reply's. */
  | { type: "node-end"; node: string; status: "ok" | "failed" | "filtered"; started: boolean; latencyMs: number; inputTokens: number; outputTokens: number; finishReason?: string }
  /** A synchronous apply's whole micro-batch: counts by outcome and the mean latency per row. */
  | { type: "node-batch"; node: string; ok: number; failed: number; filtered: number; latencyMs: number }
  | { type: "repair"; node: string; rowId: string; reason: string }
  /** `syncMs`: the fsyncs of the shards; `ledgerMs`: the ledger transaction (absent from older emitters). */
  | { type: "commit"; rows: number; ok: number; failed: number; filtered: number; watermark: number; syncMs?: number; ledgerMs?: number }
  | { type: "stop-requested"; reason: string; graceMs: number }
  /** The rows in flight were cancelled: a second signal, or the grace after the first ran out. */
  | { type: "stop-forced"; by: "signal" | "grace"; graceMs: number }
  /** `--repair` dropped damaged or missing shards; `rows` root rows run again. */
  | { type: "shards-repair"; shards: readonly string[]; rows: number }
  /** A row that failed, as it reaches the end of the chain; built only when a listener asked for it (`wants`). */
  | { type: "row-failed"; rowId: string; node: string; errorType: string; message: string }
  /**
   * The chain changed since the OUTDIR's run (only the chain, its engines' models, the format or
   * --write-filtered): its results are discarded and every row runs again, unchanged steps from the
   * response cache. `changes` says what changed, `recomputed` which nodes may produce new outputs.
   */
  | { type: "rerun"; changes: readonly string[]; recomputed: readonly string[]; fromCache: readonly string[]; removed: readonly string[] }
  /** A JSONL input grew since the last session: its new rows run, the earlier results stay. */
  | { type: "input-grown"; path: string; bytesBefore: number; bytesNow: number }
  | { type: "run-end"; status: RunStatus };

/** Events built per row, only for listeners that ask for them (the hot path stays cheap otherwise). */
export type RowEventType = "row-failed";

export type RunStatus = "complete" | "stopped" | "failed";

export type RunListener = (event: RunEvent) => void;

export class RunEvents {
  private readonly listeners: RunListener[] = [];
  /** Listeners of the per-row events, which also hear every other event. */
  private readonly rowListeners: RunListener[] = [];

  /** @param options.rows per-row events this listener wants too (`row-failed`) */
  on(listener: RunListener, options: { rows?: readonly RowEventType[] } = {}): () => void {
    const list = options.rows?.includes("row-failed") ? this.rowListeners : this.listeners;
    list.push(listener);
    return () => {
      const position = list.indexOf(listener);
      if (position >= 0) list.splice(position, 1);
    };
  }

  /** Whether a listener wants this per-row event: when none does, the run does not build it. */
  wants(type: RowEventType): boolean {
    return type === "row-failed" && this.rowListeners.length > 0;
  }

  readonly emit = (event: RunEvent): void => {
    if (event.type !== "row-failed") for (const listener of this.listeners) listener(event);
    for (const listener of this.rowListeners) listener(event);
  };
}
