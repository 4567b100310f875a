/**
 * Options of the simulator, their defaults, the named performance profiles, and validation.
 * Every option error names the option and the value received, p-queue style.
 */
import { ChainetteError } from "../errors.js";
import { validateFaults, type FaultOptions } from "./faults.js";

/** Named presets of the performance model. Explicit options override the profile's values. */
export type ProfileName = "llama-3.1-8b-h100" | "instant" | "ollama-laptop";

/** The numbers of the performance model (see docs/simulator.md for the formula and sources). */
export interface PerformanceOptions {
  /** Requests running at once (vLLM `--max-num-seqs`); the rest wait in a FIFO queue. @default 256 */
  maxNumSeqs?: number;
  /** Model-clock speed-up: 100 runs everything 100x faster; 0 answers instantly. @default 1 */
  timeScale?: number;
  /** Fixed part of time-to-first-token, in model milliseconds. @default 60 */
  ttftOverheadMs?: number;
  /** Prefill cost per prompt token, in model milliseconds. @default 0.16 */
  prefillMsPerToken?: number;
  /** Inter-token latency with one request running, in model milliseconds. @default 12 */
  interTokenLatencyMs?: number;
  /** Added inter-token latency per extra running request, in model milliseconds. @default 0.1 */
  interTokenLatencyPerRunningMs?: number;
  /** Context window (`max_model_len` in /v1/models); longer requests get HTTP 400. @default 131072 */
  maxModelLen?: number;
  /** KV-cache capacity in tokens, for `vllm:kv_cache_usage_perc`. @default 450000 */
  kvCacheTokens?: number;
  /** Typical length of a plain-text reply in tokens (each reply is 0.5x to 1.5x this). @default 96 */
  replyTokens?: number;
  /**
   * vLLM's automatic prefix caching: prompt blocks computed recently skip prefill (see
   * prefix-cache.ts). Off by default so the calibrated profile stays as measured. @default false
   */
  prefixCaching?: boolean;
  /**
   * vLLM's `--scheduling-policy`: `fcfs`, or `priority` (the waiting queue is ordered by each
   * request's `priority` field, lower first; ties in arrival order). Under `fcfs` a request with a
   * non-zero `priority` gets vLLM's 400. @default "fcfs"
   */
  schedulingPolicy?: SchedulingPolicy;
}

export type SchedulingPolicy = "fcfs" | "priority";

export interface SimulatorOptions extends PerformanceOptions {
  /** Interface to listen on. Loopback by default: the simulator has no authentication. @default "127.0.0.1" */
  host?: string;
  /** TCP port; 0 picks a free one (read it back from `Simulator.port`). @default 0 */
  port?: number;
  /** The served model name; requests naming another model get vLLM's 404. @default "sim-llama-3.1-8b" */
  model?: string;
  /** Performance preset; explicit performance options override it. @default "llama-3.1-8b-h100" */
  profile?: ProfileName;
  /** Seed mixed into every content and fault decision. @default 0 */
  seed?: number;
  /** Fault injection (rates or schedules); change it at run time with `Simulator.setFaults`. @default {} */
  faults?: FaultOptions;
}

export type ResolvedPerformance = Required<PerformanceOptions>;

export interface ResolvedOptions extends ResolvedPerformance {
  host: string;
  port: number;
  model: string;
  profile: ProfileName;
  seed: number;
  faults: FaultOptions;
}

/** The presets. `llama-3.1-8b-h100` is calibrated in docs/simulator.md. */
export const PROFILES: Readonly<Record<ProfileName, ResolvedPerformance>> = {
  "llama-3.1-8b-h100": {
    maxNumSeqs: 256, timeScale: 1, ttftOverheadMs: 60, prefillMsPerToken: 0.16, interTokenLatencyMs: 12,
    interTokenLatencyPerRunningMs: 0.1, maxModelLen: 131_072, kvCacheTokens: 450_000, replyTokens: 96,
    prefixCaching: false, schedulingPolicy: "fcfs",
  },
  instant: {
    maxNumSeqs: 256, timeScale: 0, ttftOverheadMs: 60, prefillMsPerToken: 0.16, interTokenLatencyMs: 12,
    interTokenLatencyPerRunningMs: 0.1, maxModelLen: 131_072, kvCacheTokens: 450_000, replyTokens: 96,
    prefixCaching: false, schedulingPolicy: "fcfs",
  },
  "ollama-laptop": {
    maxNumSeqs: 4, timeScale: 1, ttftOverheadMs: 150, prefillMsPerToken: 2.5, interTokenLatencyMs: 33,
    interTokenLatencyPerRunningMs: 10, maxModelLen: 4096, kvCacheTokens: 16_384, replyTokens: 96,
    prefixCaching: false, schedulingPolicy: "fcfs",
  },
};

function usage(message: string): ChainetteError {
  return new ChainetteError("USAGE", message);
}

function show(value: unknown): string {
  return typeof value === "string" ? `\`"${value}"\`` : `\`${String(value)}\``;
}

/** Throws unless `value` is an integer within [minimum, maximum]. */
export function expectInteger(name: string, value: unknown, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < minimum || value > maximum) {
    const range = maximum === Number.MAX_SAFE_INTEGER ? `>= ${minimum}` : `from ${minimum} to ${maximum}`;
    throw usage(`Expected \`${name}\` to be an integer ${range}, got ${show(value)}`);
  }
  return value;
}

/** Throws unless `value` is a finite number within [minimum, maximum]. */
export function expectNumber(name: string, value: unknown, minimum: number, maximum = Number.POSITIVE_INFINITY): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < minimum || value > maximum) {
    const range = maximum === Number.POSITIVE_INFINITY ? `>= ${minimum}` : `from ${minimum} to ${maximum}`;
    throw usage(`Expected \`${name}\` to be a number ${range}, got ${show(value)}`);
  }
  return value;
}

function expectBoolean(name: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw usage(`Expected \`${name}\` to be true or false, got ${show(value)}`);
  return value;
}

function expectPolicy(value: unknown): SchedulingPolicy {
  if (value !== "fcfs" && value !== "priority") throw usage(`Expected \`schedulingPolicy\` to be fcfs or priority, got ${show(value)}`);
  return value;
}

/** Applies the profile and the defaults, and validates every option. */
export function resolveOptions(options: SimulatorOptions = {}): ResolvedOptions {
  const profile = options.profile ?? "llama-3.1-8b-h100";
  if (!Object.hasOwn(PROFILES, profile)) {
    throw usage(`Expected \`profile\` to be one of ${Object.keys(PROFILES).join(", ")}, got ${show(profile)}`);
  }
  const base = PROFILES[profile];
  const pick = <K extends keyof ResolvedPerformance>(key: K): unknown => options[key] ?? base[key];
  const host = options.host ?? "127.0.0.1";
  if (typeof host !== "string" || host === "") throw usage(`Expected \`host\` to be a non-empty string, got ${show(host)}`);
  const model = options.model ?? "sim-llama-3.1-8b";
  if (typeof model !== "string" || model === "") throw usage(`Expected \`model\` to be a non-empty string, got ${show(model)}`);
  return {
    host,
    model,
    profile,
    port: expectInteger("port", options.port ?? 0, 0, 65_535),
    seed: expectInteger("seed", options.seed ?? 0, 0),
    maxNumSeqs: expectInteger("maxNumSeqs", pick("maxNumSeqs"), 1),
    timeScale: expectNumber("timeScale", pick("timeScale"), 0),
    ttftOverheadMs: expectNumber("ttftOverheadMs", pick("ttftOverheadMs"), 0),
    prefillMsPerToken: expectNumber("prefillMsPerToken", pick("prefillMsPerToken"), 0),
    interTokenLatencyMs: expectNumber("interTokenLatencyMs", pick("interTokenLatencyMs"), 0),
    interTokenLatencyPerRunningMs: expectNumber("interTokenLatencyPerRunningMs", pick("interTokenLatencyPerRunningMs"), 0),
    maxModelLen: expectInteger("maxModelLen", pick("maxModelLen"), 16),
    kvCacheTokens: expectInteger("kvCacheTokens", pick("kvCacheTokens"), 1),
    replyTokens: expectInteger("replyTokens", pick("replyTokens"), 1),
    prefixCaching: expectBoolean("prefixCaching", pick("prefixCaching")),
    schedulingPolicy: expectPolicy(pick("schedulingPolicy")),
    faults: validateFaults(options.faults ?? {}),
  };
}
