/**
 * Starts the simulator in its own process for benchmarks (so client and server each get a core).
 *   node --import tsx bench/sim-server.ts '{"port":0,...SimulatorOptions}'
 * Prints the URL as the first line of stdout, then serves until killed.
 */
import { startSimulator, type SimulatorOptions } from "../src/sim/index.js";

const options = JSON.parse(process.argv[2] ?? "{}") as SimulatorOptions;
const simulator = await startSimulator(options);
process.stdout.write(`${simulator.url}\n`);
process.on("SIGTERM", () => void simulator.close().then(() => process.exit(0)));
