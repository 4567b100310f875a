/** The pino logger of `--json-logs`: one per process, on stderr, loaded only when asked for. */
import type { Logger } from "pino";

let logger: Promise<Logger> | undefined;

export function jsonLogger(): Promise<Logger> {
  logger ??= import("pino").then(({ pino }) => pino({ base: null }, pino.destination({ dest: 2, sync: true })));
  return logger;
}
