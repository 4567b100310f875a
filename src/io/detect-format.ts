/**
 * Finds what an input is: from the file extension (`.gz` peeled off), else from the first bytes,
 * and for folders from their layout (a `datasets` DatasetDict, a `save_to_disk` folder, Parquet
 * shards including hub layouts like `data/train-00000-of-00003.parquet`, Arrow files).
 */
import { open, stat } from "node:fs/promises";
import { ChainetteError } from "../errors.js";
import { findDatasetFiles } from "./hf-dataset.js";

export type InputLayout =
  | { format: "jsonl" | "json" | "csv"; path: string; gzip: boolean }
  | { format: "parquet" | "arrow"; files: string[] };

export const EXPECTED_INPUTS =
  ".jsonl, .json (an array), .csv (with a header), .parquet or .arrow (optionally .gz for the text formats), " +
  "a folder of Parquet shards, a `datasets` save_to_disk folder, or - for JSONL on stdin";

const EXTENSIONS: Record<string, InputLayout["format"]> = {
  jsonl: "jsonl",
  ndjson: "jsonl",
  json: "json",
  csv: "csv",
  parquet: "parquet",
  pq: "parquet",
  arrow: "arrow",
  feather: "arrow",
  arrows: "arrow",
  ipc: "arrow",
};

export async function detectFormat(input: string, split: string | undefined): Promise<InputLayout> {
  if (input === "-") return { format: "jsonl", path: "-", gzip: false };
  const info = await stat(input).catch((error: unknown) => {
    throw new ChainetteError("INPUT_UNREADABLE", `cannot open ${input}: ${(error as Error).message}; expected ${EXPECTED_INPUTS}`, {
      cause: error,
    });
  });
  if (info.isDirectory()) return findDatasetFiles(input, split);
  const name = input.toLowerCase();
  const gzip = name.endsWith(".gz");
  const extension = (gzip ? name.slice(0, -3) : name).split(".").at(-1) ?? "";
  const byExtension = EXTENSIONS[extension];
  if (!info.isFile()) {
    // A pipe (`-i <(zcat rows.jsonl.gz)`, a FIFO, /dev/stdin): read once, so no head to sniff.
    if (byExtension === "parquet" || byExtension === "arrow") {
      throw new ChainetteError("INPUT_UNREADABLE", `${input} is not a regular file, and ${byExtension} input must be read at any offset; write it to a file first`);
    }
    return { format: byExtension ?? "jsonl", path: input, gzip };
  }
  const head = gzip ? "" : await readHead(input);
  if (byExtension === "parquet" || byExtension === "arrow") return { format: byExtension, files: [input] };
  if (byExtension === "json" && head.trimStart().startsWith("{")) return { format: "jsonl", path: input, gzip };
  if (byExtension !== undefined) return { format: byExtension, path: input, gzip };
  const sniffed = sniff(head);
  if (sniffed === "parquet" || sniffed === "arrow") return { format: sniffed, files: [input] };
  if (sniffed !== undefined) return { format: sniffed, path: input, gzip: false };
  throw new ChainetteError("INPUT_UNREADABLE", `cannot tell the format of ${input}; expected ${EXPECTED_INPUTS}`);
}

async function readHead(path: string): Promise<string> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(256);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.toString("latin1", 0, bytesRead).replace(/^\xEF\xBB\xBF/, "");
  } finally {
    await handle.close();
  }
}

function sniff(head: string): InputLayout["format"] | undefined {
  if (head.startsWith("PAR1")) return "parquet";
  if (head.startsWith("ARROW1") || head.startsWith("\xFF\xFF\xFF\xFF")) return "arrow";
  const text = head.trimStart();
  if (text.startsWith("[")) return "json";
  if (text.startsWith("{")) return "jsonl";
  return undefined;
}
