/**
 * node's `parseArgs` errors (an unknown option, a missing value, a stray argument) as one
 * `USAGE` error that names the command, suggests the nearest option, and points at `--help`.
 */
import type { ParseArgsConfig } from "node:util";
import { ChainetteError } from "../errors.js";
import { closestName } from "./closest-name.js";

export type CommandOptions = NonNullable<ParseArgsConfig["options"]>;

export function usageErrorFrom(error: unknown, command: string, options: CommandOptions): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (!(error instanceof Error) || typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS")) return error;
  const help = `\`chainette-stream ${command} --help\` lists its options`;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const option = /option '([^']+)'/.exec(error.message)?.[1] ?? "?";
    const spelled = option.split("=")[0] ?? option;
    // A one-letter option is too short to guess from.
    const suggestion = spelled.startsWith("--") ? closestName(spelled, Object.keys(options).map((name) => `--${name}`)) : undefined;
    return new ChainetteError("USAGE", `unknown option \`${option}\` for \`${command}\`${suggestion === undefined ? "" : `; did you mean \`${suggestion}\`?`} (${help})`, { cause: error });
  }
  // "Option '-i, --input <value>' argument missing", "Unexpected argument 'x'": node's text is clear; keep only its first sentence.
  const first = error.message.split(/\.\s/)[0] ?? error.message;
  return new ChainetteError("USAGE", `${first.replace(/\.$/, "")} (${help})`, { cause: error });
}
