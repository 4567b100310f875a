/**
 * Folder inputs. A `datasets` DatasetDict (`dataset_dict.json` + one folder per split) needs
 * `--split`; a `save_to_disk` folder lists its Arrow files in `state.json` `_data_files`; otherwise
 * the folder's Parquet files (searched two levels down, for hub layouts like
 * `data/train-00000-of-00003.parquet`) or Arrow files are read in sorted order. Hub shard names
 * carry their split (`train-…`, `test-…`): with several splits present, `--split` picks one.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { ChainetteError } from "../errors.js";
import type { InputLayout } from "./detect-format.js";

const SEARCH_DEPTH = 3;
const HUB_SHARD = /^([A-Za-z0-9_.]+?)-\d{5}-of-\d{5}\.parquet$/;

export async function findDatasetFiles(folder: string, split: string | undefined): Promise<InputLayout> {
  const entries = new Set(await readdir(folder));
  if (entries.has("dataset_dict.json")) {
    const splits = await readJson<{ splits?: unknown }>(join(folder, "dataset_dict.json"));
    const names = Array.isArray(splits.splits) ? splits.splits.map(String) : [];
    if (split === undefined || !names.includes(split)) {
      const problem = split === undefined ? "needs --split" : `has no split "${split}"`;
      throw new ChainetteError("USAGE", `${folder} is a DatasetDict and ${problem}; its splits: ${names.join(", ")}`);
    }
    return findDatasetFiles(join(folder, split), undefined);
  }
  if (entries.has("state.json")) {
    const state = await readJson<{ _data_files?: { filename?: unknown }[] }>(join(folder, "state.json"));
    const files = (state._data_files ?? []).map((file) => String(file.filename));
    if (files.length === 0) throw unreadable(folder, "state.json lists no _data_files");
    return { format: "arrow", files: files.map((file) => join(folder, file)) };
  }
  const found = await listFiles(folder, SEARCH_DEPTH);
  const parquet = found.filter((file) => file.toLowerCase().endsWith(".parquet"));
  if (parquet.length > 0) return { format: "parquet", files: pickSplit(folder, parquet, split) };
  const arrow = found.filter((file) => /\.(arrow|feather)$/i.test(file));
  if (arrow.length > 0) return { format: "arrow", files: arrow };
  throw unreadable(folder, "it holds no .parquet or .arrow files, no state.json and no dataset_dict.json");
}

function pickSplit(folder: string, files: string[], split: string | undefined): string[] {
  const splitOf = (file: string): string | undefined => {
    const name = file.split(sep).at(-1) ?? "";
    return HUB_SHARD.exec(name)?.[1] ?? relative(folder, file).split(sep).at(-2);
  };
  const splits = [...new Set(files.map(splitOf).filter((name) => name !== undefined && name !== "data"))];
  if (split !== undefined) {
    const chosen = files.filter((file) => splitOf(file) === split);
    if (chosen.length === 0) throw new ChainetteError("USAGE", `${folder} has no split "${split}"; its splits: ${splits.join(", ")}`);
    return chosen;
  }
  if (splits.length > 1) {
    throw new ChainetteError("USAGE", `${folder} holds several splits and needs --split; its splits: ${splits.join(", ")}`);
  }
  return files;
}

async function listFiles(folder: string, depth: number): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const path = join(folder, entry.name);
    if (entry.isDirectory() && depth > 1) files.push(...(await listFiles(path, depth - 1)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

async function readJson<T>(path: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch (error) {
    throw unreadable(path, (error as Error).message);
  }
}

function unreadable(path: string, reason: string): ChainetteError {
  return new ChainetteError("INPUT_UNREADABLE", `cannot read ${path} as a dataset folder: ${reason}`);
}
