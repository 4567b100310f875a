/**
 * `chainette-stream ps [--json]`: the managed `vllm_local` servers of this machine's registry, one
 * line each: pid, model, port, devices, uptime, state, and the runs using them (pid and engine).
 */
import { parseArgs } from "node:util";
import { describeState, listManagedServers, listUnregisteredServers } from "../engines/managed-servers.js";
import type { ServerRecord } from "../engines/server-registry.js";
import { EXIT } from "./exit-codes.js";
import { formatDuration } from "./format.js";

const PS_HELP = `Usage: chainette-stream ps [--json]

Lists the managed vllm_local servers (registry in $CHAINETTE_STATE_DIR, default
~/.chainette-stream): pid, model, port, devices, uptime, state, and the runs using them. Servers of
a run that was killed are listed too; their run shows no longer, and the idle clock runs.

  --json                one JSON object per server, in an array
`;

export const PS_OPTIONS = { json: { type: "boolean" }, help: { type: "boolean", short: "h" } } as const;

export function psCommand(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: PS_OPTIONS });
  if (values.help) {
    process.stdout.write(PS_HELP);
    return EXIT.ok;
  }
  const now = Date.now();
  const servers = listManagedServers();
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(servers.map((record) => psEntry(record, now)), null, 2)}\n`);
    return EXIT.ok;
  }
  const lost = listUnregisteredServers();
  if (lost.length > 0) process.stderr.write(`${lost.length} server process(es) not in the registry (pid ${lost.map((server) => server.pid).join(", ")}): \`chainette-stream kill --all\` stops them\n`);
  if (servers.length === 0) {
    process.stdout.write("no managed server is running\n");
    return EXIT.ok;
  }
  const rows = [["PID", "MODEL", "PORT", "DEVICES", "UPTIME", "STATE", "ENGINES", "USED BY"]];
  for (const record of servers) {
    const entry = psEntry(record, now);
    rows.push([
      String(entry.pid),
      entry.model,
      String(entry.port),
      entry.devices === null ? "-" : entry.devices.join(","),
      formatDuration(entry.uptime_s),
      entry.state,
      entry.engines.join(","),
      entry.users.length === 0 ? "-" : entry.users.map((user) => `pid ${user.pid} (${user.engine})${user.run === undefined ? "" : ` ${user.run}`}`).join(", "),
    ]);
  }
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  for (const row of rows) process.stdout.write(`${row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  ")}\n`);
  return EXIT.ok;
}

function psEntry(record: ServerRecord, now: number) {
  return {
    pid: record.pid,
    model: record.model,
    port: record.port,
    url: record.url,
    devices: record.devices,
    uptime_s: Math.max(0, Math.round((now - Date.parse(record.started_at)) / 1000)),
    state: describeState(record, now),
    engines: record.engines,
    users: record.users.map((user) => ({ pid: user.pid, engine: user.engine, run: user.run ?? null })),
    idle_timeout_s: record.idle_timeout_s,
    keep: record.keep,
    reaper_pid: record.reaper?.pid ?? null,
    started_at: record.started_at,
    log: record.log,
  };
}
