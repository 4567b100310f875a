import { existsSync, readFileSync } from "node:fs";

/** Polls `ready` until it holds; throws naming `what` when it does not within 30 s (a hung run, not a slow one). */
export async function waitFor(ready: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Complete lines in a text file, 0 while it does not exist. */
export function lineCount(path: string): number {
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").length - 1 : 0;
}
