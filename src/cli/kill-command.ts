/**
 * `chainette-stream kill [--all | -e NAME…]`: stops managed `vllm_local` servers, whoever started
 * them (warmup, a run, a run killed with `kill -9`): SIGTERM to the process group, SIGKILL after
 * the grace, the server's reaper too, and its record is removed. `--all` also stops server processes
 * the registry lost (found by the marker in their environment, Linux).
 */
import { parseArgs } from "node:util";
import { listManagedServers, stopManagedServers, stopUnregisteredServers } from "../engines/managed-servers.js";
import { ChainetteError } from "../errors.js";
import { EXIT } from "./exit-codes.js";
import { parseInteger } from "./option-values.js";

const KILL_HELP = `Usage: chainette-stream kill (--all | -e NAME ...) [--grace SECONDS]

Stops managed vllm_local servers (see \`chainette-stream ps\`), orphans of a killed run included.
The registry is in $CHAINETTE_STATE_DIR (default ~/.chainette-stream).

  --all                 every managed server, and server processes the registry lost (Linux)
  -e, --engine NAME     the server(s) engine NAME uses (repeatable)
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
  const running = listManagedServers();
  for (const name of names) if (!running.some((record) => record.engines.includes(name))) process.stdout.write(`${name}\tnot running\n`);
  const stopped = await stopManagedServers((record) => values.all === true || record.engines.some((name) => names.includes(name)), graceMs);
  const lost = values.all === true ? await stopUnregisteredServers(graceMs) : [];
  if (values.all === true && stopped.length === 0 && lost.length === 0) process.stdout.write("no engine is running\n");
  for (const { record, outcome } of stopped) process.stdout.write(`${record.engines.join(",")}\t${outcome}\t(pid ${record.pid}, ${record.url})\n`);
  for (const { server, outcome } of lost) process.stdout.write(`(unregistered)\t${outcome}\t(pid ${server.pid}, server ${server.id})\n`);
  return EXIT.ok;
}
