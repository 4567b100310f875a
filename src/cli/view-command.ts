/** `chainette-stream view OUTDIR [--port N] [--host H]`: the local web viewer of a run (see docs/viewer.md). */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ChainetteError } from "../errors.js";
import { findRuns } from "../job/run-view.js";
import { EXIT } from "./exit-codes.js";
import { parseInteger } from "./option-values.js";
import { startViewServer } from "./view-server.js";
import { untilStopped } from "../until-stopped.js";

export const VIEW_HELP = `Usage: chainette-stream view OUTDIR [--port N] [--host H]

A local web page of a run, live or finished: its state and why, tiles, a table per node, charts of
throughput, latency and errors over time, errors by type with samples, and a row browser with each
row's records. Read-only; nothing leaves the machine. OUTDIR may also be a folder whose
sub-folders are runs (a sharded run): the page lists them. See docs/viewer.md.

  --port N     TCP port (default 8321; 0 picks a free one)
  --host H     interface (default 127.0.0.1; another one shows the run to the network)
  -h, --help   show this help
`;

export const VIEW_OPTIONS = {
  port: { type: "string" },
  host: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export async function viewCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: VIEW_OPTIONS });
  if (values.help) {
    process.stdout.write(VIEW_HELP);
    return EXIT.ok;
  }
  const root = positionals[0];
  if (root === undefined) throw new ChainetteError("USAGE", "view needs OUTDIR (`chainette-stream view --help` says more)");
  if (!existsSync(root)) throw new ChainetteError("USAGE", `${root} does not exist`);
  if (findRuns(root).length === 0) throw new ChainetteError("USAGE", `${root} holds no run (no ledger.sqlite in it or in its sub-folders)`);
  const port = parseInteger("--port", values.port, 8321);
  const host = values.host ?? "127.0.0.1";
  const server = await startViewServer({ root, host, port }).catch((error: unknown) => {
    const code = (error as { code?: unknown }).code;
    if (code === "EADDRINUSE") throw new ChainetteError("USAGE", `port ${port} is in use on ${host}: pick another with --port`);
    throw error;
  });
  process.stdout.write(`viewer of ${root} on ${server.url}/ (Ctrl-C stops it)\n`);
  await untilStopped();
  await server.close();
  return EXIT.ok;
}
