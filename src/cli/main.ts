#!/usr/bin/env node
/** The `chainette-stream` command. Logs go to stderr; stdout is for data and summaries. */
import { isChainetteError } from "../errors.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";

const HELP = `Usage: chainette-stream <command> [options]

Commands:
  init [DIR]                                   write a runnable starter project (chain, input, engines)
  run CHAIN_FILE[:EXPORT] -i INPUT -o OUTDIR   run a chain (again: resume)
  inspect OUTDIR                               what a run did, live or finished
  inspect-dag CHAIN_FILE[:EXPORT]              the DAG and its validation, no requests
  sim [--port N]                               the bundled vLLM-compatible simulator
  warmup -f ENGINES.yml [-e NAME ...]          start vllm_local engines, wait until healthy
  kill (--all | -e NAME ...)                   stop engines that warmup or a run started

Run \`chainette-stream <command> --help\` for a command's options.
`;

/** Each command loads only its own modules. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "init":
      return (await import("./init-command.js")).initCommand(rest);
    case "run":
      return (await import("./run-command.js")).runCommand(rest);
    case "inspect":
      return (await import("./inspect-command.js")).inspectCommand(rest);
    case "inspect-dag":
      return (await import("./inspect-dag-command.js")).inspectDagCommand(rest);
    case "sim":
      return (await import("../sim/command.js")).runSimCommand(rest);
    case "warmup":
      return (await import("./warmup-command.js")).warmupCommand(rest);
    case "kill":
      return (await import("./kill-command.js")).killCommand(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(HELP);
      return command === undefined ? EXIT.usage : EXIT.ok;
    default:
      process.stderr.write(`unknown command \`${command}\`\n\n${HELP}`);
      return EXIT.usage;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = isChainetteError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`error: ${message}\n`);
    const code = (error as { code?: unknown }).code;
    const badArguments = typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
    process.exitCode = isChainetteError(error) ? exitCodeFor(error) : badArguments ? EXIT.usage : EXIT.failure;
  },
);
