/**
 * The input's fingerprint: for each regular file, its real path (relative paths and symlinks
 * resolved), its size and a hash of its bytes. A file up to `WHOLE_FILE_BYTES` is hashed whole;
 * a larger one is sampled: the first and last `EDGE_BYTES` and `SAMPLED_BLOCKS` blocks of
 * `BLOCK_BYTES` spread evenly between them, so a multi-GB input costs about 320 KB of reads. The
 * modification time and the path as typed are not part of it: `touch`, a symlink or a relative path
 * do not change what the rows are. See docs/resume.md for what sampling can miss.
 */
import { createHash } from "node:crypto";
import { open, realpath, stat } from "node:fs/promises";
import type { InputFileFingerprint, InputFingerprint } from "./source.js";

/** Files up to this size are hashed whole. */
export const WHOLE_FILE_BYTES = 4 * 1024 * 1024;
const EDGE_BYTES = 64 * 1024;
const SAMPLED_BLOCKS = 48;
const BLOCK_BYTES = 4 * 1024;

export async function fingerprintFiles(input: string, format: string, files: readonly string[]): Promise<InputFingerprint> {
  const entries: InputFileFingerprint[] = [];
  // A pipe has no size or content to sample without consuming it: it is identified by its path.
  for (const path of files) if ((await stat(path)).isFile()) entries.push(await fingerprintFile(path));
  return { version: 2, path: input, format, files: entries };
}

async function fingerprintFile(path: string): Promise<InputFileFingerprint> {
  const real = await realpath(path);
  const handle = await open(real, "r");
  try {
    const { size } = await handle.stat();
    const hash = createHash("sha256");
    for (const [position, length] of sampledRanges(size)) hash.update(await readAt(handle, position, length));
    return { path: real, size, sample: hash.digest("hex").slice(0, 32) };
  } finally {
    await handle.close();
  }
}

/** The `[position, length]` ranges a file of `size` bytes is hashed over, in file order. */
export function sampledRanges(size: number): [number, number][] {
  if (size <= WHOLE_FILE_BYTES) return [[0, size]];
  const ranges: [number, number][] = [[0, EDGE_BYTES]];
  const first = EDGE_BYTES;
  const last = size - EDGE_BYTES - BLOCK_BYTES;
  for (let block = 0; block < SAMPLED_BLOCKS; block++) {
    ranges.push([first + Math.floor(((last - first) * block) / (SAMPLED_BLOCKS - 1)), BLOCK_BYTES]);
  }
  ranges.push([size - EDGE_BYTES, EDGE_BYTES]);
  return ranges;
}

/**
 * Whether the file at `path` is the one fingerprinted as `sample` at `oldSize` bytes with rows
 * appended: its first `oldSize` bytes hash (over the same ranges) to `sample`, and the old end is a
 * line boundary. When the old bytes did not end with a newline and the new ones do not start with
 * one, the old last line was extended: a changed row, not an appended one.
 */
export async function grewFrom(path: string, oldSize: number, sample: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    if (size <= oldSize) return false;
    const hash = createHash("sha256");
    for (const [position, length] of sampledRanges(oldSize)) hash.update(await readAt(handle, position, length));
    if (hash.digest("hex").slice(0, 32) !== sample) return false;
    if (oldSize === 0) return true;
    const edge = await readAt(handle, oldSize - 1, 2);
    return edge[0] === 0x0a || edge[1] === 0x0a;
  } finally {
    await handle.close();
  }
}

/**
 * The sample of the first fingerprint format (written by ledgers before `version: 2`): a hash of
 * the first and last 64 KB. A resume of such a run compares it to migrate the stored identity.
 */
export async function headTailSample(path: string): Promise<{ size: number; sample: string }> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const hash = createHash("sha256");
    const head = Math.min(EDGE_BYTES, size);
    hash.update(await readAt(handle, 0, head));
    const tailStart = Math.max(head, size - EDGE_BYTES);
    hash.update(await readAt(handle, tailStart, size - tailStart));
    return { size, sample: hash.digest("hex").slice(0, 32) };
  } finally {
    await handle.close();
  }
}

async function readAt(handle: import("node:fs/promises").FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}
