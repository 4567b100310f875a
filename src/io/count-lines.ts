/**
 * Counts the non-empty lines of a plain text file by scanning for newlines (no decoding, no
 * parsing: ~1 GB/s), so the live view can show a total for JSONL inputs, whose row count no
 * header records. An estimate: a blank line counts when it holds spaces.
 */
import { createReadStream } from "node:fs";

export async function countLines(path: string, signal?: AbortSignal): Promise<number> {
  let lines = 0;
  let lastByte = 0x0a;
  let previous = 0x0a;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) }) as AsyncIterable<Buffer>) {
    let at = chunk.indexOf(0x0a);
    let start = 0;
    while (at !== -1) {
      // A line counts unless it is empty (two newlines in a row).
      if (at > start || (at === start && previous !== 0x0a)) lines++;
      previous = 0x0a;
      start = at + 1;
      at = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) previous = chunk[chunk.length - 1] ?? previous;
    lastByte = chunk[chunk.length - 1] ?? lastByte;
  }
  return lastByte === 0x0a ? lines : lines + 1;
}
