/**
 * Fault injection. Each per-request fault is a rate (0-1) or a schedule (1-based ordinals of the
 * chat requests received since the faults were set). Rate decisions are deterministic: the a-th
 * arrival of a given request body draws hash(seed, body, a), so a run replays the same faults
 * whatever the concurrency, and a retried request draws again and can succeed.
 */
import { ChainetteError } from "../errors.js";
import { hashParts, hashToUnit } from "./seeded-random.js";

/** A rate in [0, 1], or the 1-based ordinals of the chat requests that get the fault. */
export type FaultRate = number | readonly number[];

export interface FaultOptions {
  /** Answer HTTP 500 (vLLM's error body). @default 0 */
  http500?: FaultRate;
  /** Answer HTTP 503. @default 0 */
  http503?: FaultRate;
  /** Answer HTTP 429 with a `Retry-After` header. @default 0 */
  http429?: FaultRate;
  /** `Retry-After` seconds sent with 429. @default 1 */
  retryAfterSeconds?: number;
  /** Reset the connection (TCP RST) before sending anything. @default 0 */
  resetBeforeBody?: FaultRate;
  /** Send the status line, headers and part of the body (or of the SSE stream), then reset. @default 0 */
  resetMidBody?: FaultRate;
  /** Never answer: hold the connection open until the client gives up or the simulator closes. @default 0 */
  hang?: FaultRate;
  /** Answer 200 with content that is not valid JSON, even when a schema was asked for. @default 0 */
  invalidJson?: FaultRate;
  /** Answer 200 with the content cut in half and `finish_reason: "length"`. @default 0 */
  truncatedJson?: FaultRate;
  /**
   * Answer 200 with a chunked body (no `content-length`) of `hugeReplyBytes`: a valid chat
   * completion whose content is that long, written as fast as the client reads it. @default 0
   */
  hugeReply?: FaultRate;
  /** Size of a `hugeReply` body in bytes. @default 67_108_864 (64 MiB) */
  hugeReplyBytes?: number;
  /** After this many chat requests the engine is dead: `/health` 503 and every request 500. @default undefined (never) */
  deadAfterRequests?: number;
  /** For this many seconds (wall clock, not scaled) after start or `setFaults`, `/health` and chat requests answer 503. @default 0 */
  slowStartSeconds?: number;
}

/** Faults decided per request, in the order their rates are laid out on [0, 1). */
export const REQUEST_FAULT_KINDS = [
  "http500", "http503", "http429", "resetBeforeBody", "resetMidBody", "hang", "invalidJson", "truncatedJson", "hugeReply",
] as const;

export type RequestFaultKind = (typeof REQUEST_FAULT_KINDS)[number];

/** Every kind counted by `Simulator.stats().faults`. */
export type FaultKind = RequestFaultKind | "dead" | "slowStart";

function usage(message: string): ChainetteError {
  return new ChainetteError("USAGE", message);
}

/** Validates fault options; returns them unchanged. */
export function validateFaults(faults: FaultOptions): FaultOptions {
  let total = 0;
  for (const kind of REQUEST_FAULT_KINDS) {
    const value = faults[kind];
    if (value === undefined) continue;
    if (typeof value === "number") {
      if (!Number.isFinite(value) || value < 0 || value > 1) throw usage(`Expected \`faults.${kind}\` to be a rate from 0 to 1 or a list of request ordinals, got \`${value}\``);
      total += value;
    } else if (!Array.isArray(value) || !value.every((ordinal) => Number.isInteger(ordinal) && ordinal >= 1)) {
      throw usage(`Expected \`faults.${kind}\` to be a rate from 0 to 1 or a list of request ordinals (integers >= 1), got \`${JSON.stringify(value)}\``);
    }
  }
  if (total > 1 + 1e-9) throw usage(`Expected the fault rates to add up to at most 1, got \`${total}\``);
  const { retryAfterSeconds, deadAfterRequests, slowStartSeconds, hugeReplyBytes } = faults;
  if (hugeReplyBytes !== undefined && !(Number.isInteger(hugeReplyBytes) && hugeReplyBytes >= 1024)) {
    throw usage(`Expected \`faults.hugeReplyBytes\` to be an integer >= 1024, got \`${String(hugeReplyBytes)}\``);
  }
  if (retryAfterSeconds !== undefined && !(Number.isInteger(retryAfterSeconds) && retryAfterSeconds >= 0)) {
    throw usage(`Expected \`faults.retryAfterSeconds\` to be an integer >= 0, got \`${String(retryAfterSeconds)}\``);
  }
  if (deadAfterRequests !== undefined && !(Number.isInteger(deadAfterRequests) && deadAfterRequests >= 0)) {
    throw usage(`Expected \`faults.deadAfterRequests\` to be an integer >= 0, got \`${String(deadAfterRequests)}\``);
  }
  if (slowStartSeconds !== undefined && !(Number.isFinite(slowStartSeconds) && slowStartSeconds >= 0)) {
    throw usage(`Expected \`faults.slowStartSeconds\` to be a number >= 0, got \`${String(slowStartSeconds)}\``);
  }
  return faults;
}

/** The decision for one chat request. */
export type FaultDecision = RequestFaultKind | "dead" | "slowStart" | undefined;

/** Decides which fault (if any) each request gets. One per simulator; replaced by `setFaults`. */
export class FaultPlanner {
  readonly faults: FaultOptions;
  readonly #seed: number;
  readonly #startedAt = performance.now();
  readonly #attempts = new Map<number, number>();
  readonly #hasRates: boolean;
  #ordinal = 0;

  constructor(faults: FaultOptions, seed: number) {
    this.faults = validateFaults(faults);
    this.#seed = seed;
    this.#hasRates = REQUEST_FAULT_KINDS.some((kind) => typeof faults[kind] === "number" && faults[kind] > 0);
  }

  /** True while the slow start lasts. */
  starting(): boolean {
    const seconds = this.faults.slowStartSeconds ?? 0;
    return seconds > 0 && performance.now() - this.#startedAt < seconds * 1000;
  }

  /** True once `deadAfterRequests` chat requests have arrived. */
  dead(): boolean {
    const limit = this.faults.deadAfterRequests;
    return limit !== undefined && this.#ordinal >= limit;
  }

  /** Called once per chat request with a hash of its body. */
  decide(bodyHash: number): FaultDecision {
    if (this.starting()) return "slowStart";
    if (this.dead()) return "dead";
    const ordinal = ++this.#ordinal;
    for (const kind of REQUEST_FAULT_KINDS) {
      const value = this.faults[kind];
      if (typeof value === "object" && value.includes(ordinal)) return kind;
    }
    if (!this.#hasRates) return undefined;
    const attempt = (this.#attempts.get(bodyHash) ?? 0) + 1;
    this.#attempts.set(bodyHash, attempt);
    const draw = hashToUnit(hashParts([this.#seed, bodyHash, attempt], 0x5eed));
    let edge = 0;
    for (const kind of REQUEST_FAULT_KINDS) {
      const value = this.faults[kind];
      if (typeof value !== "number") continue;
      edge += value;
      if (draw < edge) return kind;
    }
    return undefined;
  }
}
