/**
 * A new generation of an OUTDIR's results, for a rerun after a chain change: everything the earlier
 * run wrote is discarded, crash-safely, before the new run writes anything, and the response cache
 * is kept (its replies are what make the rerun cheap). No folder ever holds results of both.
 *
 * Protocol: `rerun.json` is written (temporary file, fsync, rename) naming every output folder of
 * both chains; then the run's files are removed (the ledger among them); then the caller records
 * the new identity in a new ledger and calls `endGeneration`, which removes the marker. A kill at
 * any point leaves the marker in place, and the next run (any command on the OUTDIR) finishes the
 * discard first: deleting twice is harmless, and nothing of the new run is committed before the
 * marker is gone.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { crashPoint } from "../crash-points.js";
import { traceDurable, tracingDurable } from "../durable-trace.js";
import { fsyncDirectory } from "../durability/shard-writer.js";
import { writeJsonAtomic } from "../durability/write-json-atomic.js";

/** The marker of a discard in progress. */
export const RERUN_MARKER = "rerun.json";

interface Marker {
  /** Output folders of the earlier chain and of the new one. */
  folders: string[];
  changes: string[];
}

/**
 * Writes the marker, then removes `runFiles` and `folders` from OUTDIR. The caller then opens a new
 * ledger, records the new identity and calls `endGeneration`.
 */
export function beginGeneration(outDir: string, runFiles: readonly string[], folders: readonly string[], changes: readonly string[]): void {
  writeJsonAtomic(join(outDir, RERUN_MARKER), { folders: [...new Set(folders)], changes: [...changes] } satisfies Marker);
  fsyncDirectory(outDir);
  if (tracingDurable) traceDurable({ op: "discard", ledger: join(outDir, "ledger.sqlite") });
  crashPoint("rerun-marked");
  discard(outDir, runFiles, folders);
  crashPoint("rerun-discarded");
}

/** The new ledger holds the new identity (checkpointed): the discard is over. */
export function endGeneration(outDir: string): void {
  rmSync(join(outDir, RERUN_MARKER), { force: true });
  fsyncDirectory(outDir);
}

/**
 * Finishes a discard a kill interrupted (the marker is still there); returns whether there was one.
 * `runFiles` are the files any run owns, the marker names the folders.
 */
export function finishInterruptedGeneration(outDir: string, runFiles: readonly string[]): boolean {
  const path = join(outDir, RERUN_MARKER);
  if (!existsSync(path)) return false;
  let folders: string[] = [];
  try {
    folders = (JSON.parse(readFileSync(path, "utf8")) as Marker).folders.filter((name) => typeof name === "string" && name !== "" && !name.includes("/") && name !== "..");
  } catch {
    // A marker is renamed into place whole; one that does not parse was damaged by hand: the run's
    // own files still go, node folders not named anywhere stay.
  }
  discard(outDir, runFiles, folders);
  endGeneration(outDir);
  return true;
}

export function hasInterruptedGeneration(outDir: string): boolean {
  return existsSync(join(outDir, RERUN_MARKER));
}

function discard(outDir: string, runFiles: readonly string[], folders: readonly string[]): void {
  const owned = new Set([...runFiles, ...folders]);
  for (const name of readdirSync(outDir)) {
    if (!owned.has(name) && !(name.endsWith(".tmp") && name !== `${RERUN_MARKER}.tmp`)) continue;
    rmSync(join(outDir, name), { recursive: true, force: true });
    crashPoint("rerun-discarding");
  }
  fsyncDirectory(outDir);
}
