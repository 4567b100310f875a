/**
 * Phase 2 of a durable run, under the lock: make the output folders hold exactly what the ledger
 * committed (cut torn tails, delete uncommitted files, check CRCs), redo damaged shards' rows
 * (`--repair`) or failed rows (`--retry-errors`), seal Parquet shards an earlier session committed
 * whole, and write graph.json.
 */
import { join } from "node:path";
import { ParquetSealer } from "../durability/parquet-sealer.js";
import { shardColumnsOf } from "../durability/parquet-shard-columns.js";
import { recoverShards } from "../durability/recover-shards.js";
import { repairShards } from "../durability/repair-shards.js";
import { forgetFailedRows } from "../durability/retry-errors.js";
import { writeJsonAtomic } from "../durability/write-json-atomic.js";
import { ChainetteError } from "../errors.js";
import { graphJson } from "./graph-json.js";
import { outputFolders, type OpenRun } from "./open-run.js";
import type { RunJobOptions } from "./run-job.js";

/** Returns the Parquet sealer of a `--format parquet` run. */
export async function recoverRun(run: OpenRun, options: RunJobOptions, maxLinesPerFile: number): Promise<ParquetSealer | undefined> {
  const { ledger, format, plan } = run;
  if (options.repair && format !== "jsonl") throw new ChainetteError("USAGE", "--repair works on --format jsonl runs only (sealed Parquet shards are not rewritten); rerun with --fresh");
  if (options.retryErrors && format !== "jsonl") throw new ChainetteError("USAGE", "--retry-errors works on --format jsonl runs only (sealed Parquet shards cannot be edited in place yet)");
  const recovery = recoverShards(options.outDir, outputFolders(plan, options.writeFiltered ?? false), ledger.shards(), format, { repair: options.repair ?? false });
  if (recovery.damaged.length > 0) {
    const repaired = repairShards(options.outDir, ledger, recovery.damaged, maxLinesPerFile);
    options.events.emit({ type: "shards-repair", shards: recovery.damaged.map(({ path }) => path), rows: repaired.roots });
  }
  if (options.retryErrors) forgetFailedRows(options.outDir, ledger, maxLinesPerFile);
  const parquet = format === "parquet" ? new ParquetSealer(options.outDir, ledger, shardColumnsOf(plan)) : undefined;
  // Shards an earlier session committed whole but did not seal (a crash, or rows since): seal them now.
  await parquet?.sealCommitted(maxLinesPerFile);
  writeJsonAtomic(join(options.outDir, "graph.json"), graphJson(plan, { engines: options.engines, invocation: run.invocation, input: run.inputFingerprint, format }));
  return parquet;
}
