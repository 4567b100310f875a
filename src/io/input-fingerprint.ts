/**
 * The input's fingerprint: size, mtime and a hash of the first and last 64 KB of each file. Cheap
 * on any size of input, and it catches the real changes (appended rows, rewritten files).
 */
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import type { InputFingerprint } from "./source.js";

const SAMPLE_BYTES = 64 * 1024;

export async function fingerprintFiles(input: string, format: string, files: readonly string[]): Promise<InputFingerprint> {
  const entries: InputFingerprint["files"] = [];
  // A pipe has no size or content to sample without consuming it: it is identified by its path.
  for (const path of files) if ((await stat(path)).isFile()) entries.push(await fingerprintFile(path));
  return { path: input, format, files: entries };
}

async function fingerprintFile(path: string): Promise<InputFingerprint["files"][number]> {
  const info = await stat(path);
  const hash = createHash("sha256");
  const handle = await open(path, "r");
  try {
    const head = Buffer.alloc(Math.min(SAMPLE_BYTES, info.size));
    await handle.read(head, 0, head.length, 0);
    hash.update(head);
    const tailStart = Math.max(head.length, info.size - SAMPLE_BYTES);
    const tail = Buffer.alloc(info.size - tailStart);
    await handle.read(tail, 0, tail.length, tailStart);
    hash.update(tail);
  } finally {
    await handle.close();
  }
  return { path, size: info.size, mtimeMs: info.mtimeMs, sample: hash.digest("hex").slice(0, 32) };
}
