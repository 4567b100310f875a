/**
 * Entry point of a server's reaper: `node idle-reaper-main.js STATE_DIR ID`, spawned detached by
 * the broker. SIGTERM (sent by `kill`, or by whoever stopped the server) ends it at once.
 */
import { join } from "node:path";
import { watchIdleServer } from "./idle-reaper.js";
import { note } from "./server-broker.js";

const [stateDir, id] = process.argv.slice(2);
if (stateDir === undefined || id === undefined) {
  process.stderr.write("usage: idle-reaper-main.js STATE_DIR ID\n");
  process.exit(2);
}
process.on("SIGTERM", () => process.exit(0));
try {
  await watchIdleServer(stateDir, id);
} catch (error) {
  note(join(stateDir, "servers", `${id}.log`), `the idle reaper failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
