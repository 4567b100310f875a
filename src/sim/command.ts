/**
 * `chainette-stream sim`: parses the subcommand's flags with `node:util` `parseArgs`, starts the
 * simulator, prints its URL on stdout, and resolves with an exit code once SIGINT/SIGTERM closes it.
 */
import { parseArgs } from "node:util";
import { ChainetteError, isChainetteError } from "../errors.js";
import type { FaultOptions, FaultRate } from "./faults.js";
import type { ProfileName, SchedulingPolicy, SimulatorOptions } from "./options.js";
import { startSimulator } from "./server.js";
import { untilStopped } from "../until-stopped.js";

export const SIM_HELP = `Usage: chainette-stream sim [options]

A vLLM-compatible simulator (OpenAI /v1/chat/completions, /health, /v1/models, /metrics,
/tokenize, Ollama /api/chat and /api/tags). See docs/simulator.md.

Server:
  --port N                   TCP port (default 8000; 0 picks a free one)
  --host HOST                interface (default 127.0.0.1)
  --model NAME               served model name (default sim-llama-3.1-8b)
  --profile NAME             llama-3.1-8b-h100 (default), instant, ollama-laptop
  --max-num-seqs N           requests running at once (default 256)
  --time-scale X             model clock speed-up; 0 answers instantly (default 1)
  --max-model-len N          context window (default 131072)
  --seed N                   seed for content and fault decisions (default 0)
  --enable-prefix-caching    model vLLM's prefix cache: recently seen prompt blocks skip prefill
  --scheduling-policy NAME   fcfs (default) or priority (the request's \`priority\`, lower first)

Faults (RATE is 0-1, or a comma list of 1-based request ordinals such as 3,7):
  --fault-500 RATE           HTTP 500
  --fault-503 RATE           HTTP 503
  --fault-429 RATE           HTTP 429 with Retry-After
  --retry-after SECONDS      Retry-After sent with 429 (default 1)
  --fault-reset RATE         connection reset before any byte of the reply
  --fault-reset-mid RATE     connection reset in the middle of the body or stream
  --fault-hang RATE          never answer (hold the connection)
  --fault-invalid-json RATE  content that is not valid JSON
  --fault-truncate RATE      content cut in half, finish_reason "length"
  --fault-huge-reply RATE    a chunked 200 of --huge-reply-bytes (valid, just huge)
  --huge-reply-bytes N       size of a huge reply (default 67108864, 64 MiB)
  --dead-after N             after N chat requests: /health 503, every request 500
  --slow-start SECONDS       /health and requests answer 503 for this long after start
  -h, --help                 show this help
`;

const FAULT_FLAGS = {
  "fault-500": "http500",
  "fault-503": "http503",
  "fault-429": "http429",
  "fault-reset": "resetBeforeBody",
  "fault-reset-mid": "resetMidBody",
  "fault-hang": "hang",
  "fault-invalid-json": "invalidJson",
  "fault-truncate": "truncatedJson",
  "fault-huge-reply": "hugeReply",
} as const;

function numberFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) throw new ChainetteError("USAGE", `Expected \`--${flag}\` to be a number, got \`${text}\``);
  return value;
}

function rateFlag(flag: string, text: string): FaultRate {
  if (text.includes(",") || /^\d+$/.test(text) && Number(text) > 1) {
    return text.split(",").filter((part) => part !== "").map((part) => numberFlag(flag, part) ?? 0);
  }
  return numberFlag(flag, text) ?? 0;
}

const string = { type: "string" } as const;

/** The options of `sim`, for parsing and for the CLI's "did you mean". */
export const SIM_OPTIONS = {
  port: string, host: string, model: string, profile: string, "max-num-seqs": string, "time-scale": string,
  "max-model-len": string, seed: string, "retry-after": string, "dead-after": string, "slow-start": string, "huge-reply-bytes": string,
  ...(Object.fromEntries(Object.keys(FAULT_FLAGS).map((flag) => [flag, string])) as Record<keyof typeof FAULT_FLAGS, typeof string>),
  "enable-prefix-caching": { type: "boolean" },
  "scheduling-policy": string,
  help: { type: "boolean", short: "h" },
} as const;

/** Turns the subcommand's argv (after `sim`) into simulator options, or "help". */
export function parseSimArguments(argv: string[]): SimulatorOptions | "help" {
  const { values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: SIM_OPTIONS });
  if (values.help === true) return "help";
  const text = (flag: string): string | undefined => {
    const value = (values as Record<string, unknown>)[flag];
    return typeof value === "string" ? value : undefined;
  };
  const faults: FaultOptions = {};
  for (const [flag, kind] of Object.entries(FAULT_FLAGS)) {
    const value = text(flag);
    if (value !== undefined) faults[kind] = rateFlag(flag, value);
  }
  const retryAfter = numberFlag("retry-after", text("retry-after"));
  if (retryAfter !== undefined) faults.retryAfterSeconds = retryAfter;
  const hugeReplyBytes = numberFlag("huge-reply-bytes", text("huge-reply-bytes"));
  if (hugeReplyBytes !== undefined) faults.hugeReplyBytes = hugeReplyBytes;
  const deadAfter = numberFlag("dead-after", text("dead-after"));
  if (deadAfter !== undefined) faults.deadAfterRequests = deadAfter;
  const slowStart = numberFlag("slow-start", text("slow-start"));
  if (slowStart !== undefined) faults.slowStartSeconds = slowStart;
  const options: SimulatorOptions = { port: numberFlag("port", text("port")) ?? 8000, faults };
  const host = text("host");
  if (host !== undefined) options.host = host;
  const model = text("model");
  if (model !== undefined) options.model = model;
  const profile = text("profile");
  if (profile !== undefined) options.profile = profile as ProfileName;
  if (values["enable-prefix-caching"] === true) options.prefixCaching = true;
  const policy = text("scheduling-policy");
  if (policy !== undefined) options.schedulingPolicy = policy as SchedulingPolicy;
  const numeric = { "max-num-seqs": "maxNumSeqs", "time-scale": "timeScale", "max-model-len": "maxModelLen", seed: "seed" } as const;
  for (const [flag, key] of Object.entries(numeric)) {
    const value = numberFlag(flag, text(flag));
    if (value !== undefined) options[key] = value;
  }
  return options;
}

/** Runs `chainette-stream sim`; resolves with the exit code (0 after a signal); throws a usage error. */
export async function runSimCommand(argv: string[]): Promise<number> {
  let options: SimulatorOptions | "help";
  try {
    options = parseSimArguments(argv);
    if (options === "help") {
      process.stdout.write(SIM_HELP);
      return 0;
    }
    const simulator = await startSimulator(options);
    process.stdout.write(`sim listening on ${simulator.url}  (OpenAI base URL: ${simulator.url}/v1)\n`);
    await untilStopped();
    await simulator.close();
    return 0;
  } catch (error) {
    // Usage errors go to the CLI, which names the nearest option and exits 2.
    if (isChainetteError(error, "USAGE") || (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))) throw error;
    process.stderr.write(`chainette-stream sim: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
