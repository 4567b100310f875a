/**
 * `chainette-stream kill [--all | -e NAME…]`: stops `vllm_local` servers recorded in the state
 * directory (by `warmup`, or by a run that did not get to stop its own): SIGTERM to the process
 * group, SIGKILL after the grace, and the entry is removed.
 */
import { parseArgs } from "node:util";
import { forgetLocalEngine, readLocalEngines, stateDirectory } from "../engines/local-engine-state.js";
import { stopProcessGroup } from "../engines/vllm-process.js";
import { ChainetteError } from "../errors.js";
import { EXIT } from "./exit-codes.js";
import { parseInteger } from "./option-values.js";

const KILL_HELP = `Usage: chainette-stream kill (--all | -e NAME ...) [--grace SECONDS]

Stops vllm_local servers recorded in $CHAINETTE_STATE_DIR (default ~/.chainette-stream).

  --all                 every recorded engine
  -e, --engine NAME     one engine (repeatable)
  --grace SECONDS       time between SIGTERM and SIGKILL (default 30)
`;

export const KILL_OPTIONS = {
  all: { type: "boolean" },
  engine: { type: "string", short: "e", multiple: true },
  grace: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export async function killCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: KILL_OPTIONS,
  });
  if (values.help) {
    process.stdout.write(KILL_HELP);
    return EXIT.ok;
  }
  const names = values.engine ?? [];
  if ((values.all === true) === names.length > 0) throw new ChainetteError("USAGE", `kill needs either --all or -e NAME, not ${values.all === true ? "both" : "neither"}\n\n${KILL_HELP}`);
  const graceMs = parseInteger("--grace", values.grace, 30) * 1000;
  const directory = stateDirectory();
  const entries = readLocalEngines(directory);
  const targets = values.all === true ? entries : entries.filter((entry) => names.includes(entry.name));
  for (const name of names) if (!entries.some((entry) => entry.name === name)) process.stdout.write(`${name}\tnot running\n`);
  if (values.all === true && targets.length === 0) process.stdout.write("no engine is running\n");
  for (const entry of targets) {
    const outcome = await stopProcessGroup(entry.pid, graceMs);
    forgetLocalEngine(entry.name, entry.pid, directory);
    process.stdout.write(`${entry.name}\t${outcome}\t(pid ${entry.pid}, ${entry.url})\n`);
  }
  return EXIT.ok;
}
