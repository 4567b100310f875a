/**
 * Runs one job through the library (`runJob`) so a benchmark can vary what the CLI does not expose.
 *   node --import tsx bench/run-job-once.ts CHAIN INPUT OUTDIR COMMIT_INTERVAL_MS
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { RunEvents, runJob, type Chain } from "../dist/index.js";

const [chainFile, input, outDir, interval] = process.argv.slice(2) as [string, string, string, string];
const { chain } = (await import(pathToFileURL(resolve(chainFile)).href)) as { chain: Chain };
const result = await runJob({ chain, input, outDir, engines: [], events: new RunEvents(), invocation: [], fresh: false, maxLinesPerFile: 100_000, commitIntervalMs: Number(interval) });
if (result.status !== "complete") throw new Error(`run ${result.status}: ${String(result.error)}`);
