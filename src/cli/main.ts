#!/usr/bin/env node
/** The `chainette-stream` command. Logs go to stderr; stdout is for data and summaries. */
import { readFileSync } from "node:fs";
import { ChainetteError, isChainetteError } from "../errors.js";
import { closestName } from "./closest-name.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import { reportFatal } from "./report-fatal.js";
import { usageErrorFrom, type CommandOptions } from "./usage-error.js";

const HELP = `Usage: chainette-stream <command> [options]

Commands:
  init [DIR]                                   write a runnable starter project (chain, input, engines)
  run CHAIN_FILE[:EXPORT] -i INPUT -o OUTDIR   run a chain (again: resume)
  inspect OUTDIR                               what a run did, live or finished (also a sharded job)
  merge OUTDIR                                 one run's folders from the complete shards of a job
  view OUTDIR [--port N]                       a local web page of a run, live or finished
  inspect-dag CHAIN_FILE[:EXPORT]              the DAG and its validation, no requests
  sim [--port N]                               the bundled vLLM-compatible simulator
  warmup -f ENGINES.yml [-e NAME ...]          start vllm_local engines, wait until healthy
  kill (--all | -e NAME ...)                   stop engines that warmup or a run started
  ps [--json]                                  managed vllm_local servers: pid, model, port, runs
  cache DIR [--prune-older-than AGE]           a response cache's size and age; prune old replies

Options:
  -v, --version                                print the version
  --debug                                      print stack traces (also CHAINETTE_DEBUG=1)

Run \`chainette-stream <command> --help\` for a command's options.
`;

interface Command {
  run(argv: string[]): number | Promise<number>;
  options: CommandOptions;
}

/** Each command loads only its own modules. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  init: async () => import("./init-command.js").then((module) => ({ run: module.initCommand, options: module.INIT_OPTIONS })),
  run: async () => import("./run-command.js").then((module) => ({ run: module.runCommand, options: module.RUN_OPTIONS })),
  inspect: async () => import("./inspect-command.js").then((module) => ({ run: module.inspectCommand, options: module.INSPECT_OPTIONS })),
  merge: async () => import("./merge-command.js").then((module) => ({ run: module.mergeCommand, options: module.MERGE_OPTIONS })),
  view: async () => import("./view-command.js").then((module) => ({ run: module.viewCommand, options: module.VIEW_OPTIONS })),
  "inspect-dag": async () => import("./inspect-dag-command.js").then((module) => ({ run: module.inspectDagCommand, options: module.INSPECT_DAG_OPTIONS })),
  sim: async () => import("../sim/command.js").then((module) => ({ run: module.runSimCommand, options: module.SIM_OPTIONS })),
  warmup: async () => import("./warmup-command.js").then((module) => ({ run: module.warmupCommand, options: module.WARMUP_OPTIONS })),
  kill: async () => import("./kill-command.js").then((module) => ({ run: module.killCommand, options: module.KILL_OPTIONS })),
  ps: async () => import("./ps-command.js").then((module) => ({ run: module.psCommand, options: module.PS_OPTIONS })),
  cache: async () => import("./cache-command.js").then((module) => ({ run: module.cacheCommand, options: module.CACHE_OPTIONS })),
};

async function main(name: string | undefined, rest: string[]): Promise<number> {
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(HELP);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    const suggestion = closestName(name, Object.keys(COMMANDS));
    throw new ChainetteError("USAGE", `unknown command \`${name}\`${suggestion === undefined ? "" : `; did you mean \`${suggestion}\`?`} (\`chainette-stream --help\` lists the commands)`);
  }
  const command = await load();
  try {
    return await command.run(rest);
  } catch (error) {
    throw usageErrorFrom(error, name, command.options);
  }
}

function packageVersion(): string {
  const path = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
}

// Stdout closed early (`chainette-stream inspect OUTDIR | head -1`): nothing more to say to it. The
// command goes on (a run still commits what it does) and exits with its own code, quietly.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") throw error;
  process.stdout.write = (() => true);
});

const argv = process.argv.slice(2);
const end = argv.indexOf("--");
const options = end === -1 ? argv : argv.slice(0, end);
if (options.includes("--debug")) {
  process.env.CHAINETTE_DEBUG = "1";
  argv.splice(argv.indexOf("--debug"), 1);
}
const [name, ...rest] = argv;
// Every line of --json-logs is JSON, a usage error after the flag too.
const json = name === "run" && options.includes("--json-logs");

main(name, rest).then(
  (code) => {
    process.exitCode = code;
  },
  async (error: unknown) => {
    await reportFatal(error, { json, command: name });
    process.exitCode = isChainetteError(error) ? exitCodeFor(error) : EXIT.failure;
  },
);
