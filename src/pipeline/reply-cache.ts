/**
 * What the step executor asks of a response cache (the durable one is
 * src/durability/response-cache.ts), and the key a request is cached under.
 *
 * The key is a SHA-256 of a canonical JSON of everything that decides the reply: the engine fields
 * that change replies (backend, model, dtype, reasoning flags), the messages, the output schema and
 * the sampling parameters (`extra` included). Sampling that is not reproducible (a temperature
 * other than 0, or the server's default, with no seed) also keys on the step and the row id: each
 * row keeps its own sample, and a rerun reuses it, but two rows never share one. Greedy or seeded
 * requests are keyed by the request alone, so identical requests share one reply.
 */
import { createHash, hash } from "node:crypto";
import type { StepPlan } from "../core/plan.js";
import type { ChatMessage, EngineConfig } from "../engines/engine.js";

/** A reply the step accepted (parsed and schema-valid), with what it cost to get. */
export interface CachedReply {
  text: string;
  reasoning: string | undefined;
  finishReason: string;
  inputTokens: number;
  outputTokens: number;
  /** Requests it took (schema repairs included): what a hit saves. */
  requests: number;
}

export interface ReplyCache {
  lookup(key: Buffer): CachedReply | undefined;
  /** Records an accepted reply; written at the end of this event-loop turn (writes are batched). */
  store(key: Buffer, reply: CachedReply): void;
}

/** Bumped when the key's content changes meaning: older entries then simply miss. */
const KEY_VERSION = 1;

/** The engine fields that change replies to the same request (as in the run's identity). */
const ENGINE_FIELDS = ["backend", "model", "dtype", "enableReasoning", "reasoningParser"] as const;

/** Builds keys for one step: the parts every row shares are serialized once. */
export class ReplyKeys {
  /** The digest of the parts every row shares, hashed again with each request's own parts. */
  readonly #prefix: string;
  readonly #perRow: boolean;

  constructor(plan: StepPlan, engine: EngineConfig) {
    const sampling = plan.step.sampling;
    const engineFields: Record<string, unknown> = {};
    for (const field of ENGINE_FIELDS) if (engine[field] !== undefined) engineFields[field] = engine[field];
    this.#perRow = !isReproducible(sampling.temperature, sampling.seed ?? sampling.extra?.seed);
    const shared = canonicalJson({
      v: KEY_VERSION,
      engine: engineFields,
      schema: plan.outputSchema ?? {},
      sampling,
      ...(this.#perRow ? { step: plan.id } : {}),
    });
    this.#prefix = `${createHash("sha256").update(shared).digest("hex")}\n`;
  }

  /** Whether keys of this step include the row id (sampling that is not reproducible). */
  get perRow(): boolean {
    return this.#perRow;
  }

  key(messages: readonly ChatMessage[], rowId: string): Buffer {
    // Messages are built here with a fixed key order: JSON.stringify is already canonical for them.
    // One native call (crypto.hash): three (update, update, digest) cost twice as much per request.
    const text = `${this.#prefix}${JSON.stringify(messages.map((message) => [message.role, message.content]))}${this.#perRow ? `\n${rowId}` : ""}`;
    return hash("sha256", text, "buffer");
  }
}

function isReproducible(temperature: number | undefined, seed: unknown): boolean {
  return temperature === 0 || (typeof seed === "number" && Number.isFinite(seed));
}

/** JSON with object keys sorted at every level, so equal values always serialize the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return item;
    const sorted: Record<string, unknown> = {};
    for (const name of Object.keys(item).sort()) sorted[name] = (item as Record<string, unknown>)[name];
    return sorted;
  });
}
