/**
 * The simulator in a process of its own (`bench/sim-server.ts`), so the client under test does not
 * share an event loop with it: started with `options`, given to `run` by URL, stopped afterwards.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { SimulatorOptions } from "../src/sim/index.js";

export async function withSimulatorProcess<T>(options: SimulatorOptions, run: (url: string) => T | Promise<T>): Promise<T> {
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "sim-server.ts"), JSON.stringify(options)], { stdio: ["ignore", "pipe", "inherit"] });
  const [url] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
  try {
    return await run(url);
  } finally {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
}
