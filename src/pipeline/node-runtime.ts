import type { Engine } from "../engines/engine.js";
import type { RunEvent } from "./events.js";
import type { ReplyCache } from "./reply-cache.js";

/** What executing a node needs from the run: engines, the event sink, and the abort signal. */
export interface NodeRuntime {
  readonly engines: ReadonlyMap<string, Engine>;
  readonly emit: (event: RunEvent) => void;
  /** Aborts in-flight requests (a second Ctrl-C, or an infrastructure failure elsewhere). */
  readonly signal: AbortSignal;
  /** Accepted replies from earlier sessions and runs (absent: `--no-cache`, or no durable run). */
  readonly cache?: ReplyCache;
}
