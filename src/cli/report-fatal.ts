/**
 * How an error that stops a command reaches a person: one message with its code and what to do
 * next, on stderr, as text or (`--json-logs`) one JSON line at level error. The stack only with
 * `--debug` or `CHAINETTE_DEBUG=1`.
 */
import { inspect } from "node:util";
import { redactUrls } from "../engines/redact-urls.js";
import { isChainetteError, type ErrorCode } from "../errors.js";
import { jsonLogger } from "./json-logger.js";

export interface FatalReport {
  code: string;
  message: string;
  /** What to do next, when the message does not say it already. */
  hint: string | undefined;
}

/** For the codes whose messages say what went wrong but not what to do (the others say both). */
const HINTS: Partial<Record<ErrorCode, string>> = {
  ENGINE_DOWN: "start the engine (or fix --endpoint), then run the same command again: it resumes",
  DISK: "free space on the output disk, then run the same command again: it resumes",
};

export function fatalReport(error: unknown): FatalReport {
  if (isChainetteError(error)) return { code: error.code, message: redactUrls(error.message), hint: HINTS[error.code] };
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : inspect(error);
  return {
    code: typeof code === "string" ? code : "UNEXPECTED",
    message: redactUrls(message),
    hint: "an unexpected error: run again with --debug (or CHAINETTE_DEBUG=1) for its stack, and report it",
  };
}

export function debugWanted(): boolean {
  const value = process.env.CHAINETTE_DEBUG;
  return value !== undefined && value !== "" && value !== "0";
}

/** The text form: `error CODE: message` and, on the same message, what to do next. */
export function fatalText(report: FatalReport): string {
  return `error ${report.code}: ${report.message}${report.hint === undefined ? "" : `\n  next: ${report.hint}`}`;
}

export async function reportFatal(error: unknown, options: { json: boolean; command: string | undefined }): Promise<void> {
  const report = fatalReport(error);
  const stack = debugWanted() && error instanceof Error ? error.stack : undefined;
  if (options.json) {
    const logger = await jsonLogger();
    logger.error({ event: "fatal", command: options.command ?? null, code: report.code, ...(report.hint === undefined ? {} : { hint: report.hint }), ...(stack === undefined ? {} : { stack }) }, report.message);
    return;
  }
  process.stderr.write(`${fatalText(report)}\n${stack === undefined ? "" : `${stack}\n`}`);
}
