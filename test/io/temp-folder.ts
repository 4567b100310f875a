/** Real files in a fresh temporary folder per test file; removed afterwards. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

export function useTempFolder(prefix: string): (name: string) => string {
  const folder = mkdtempSync(join(tmpdir(), `chainette-${prefix}-`));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  return (name: string) => join(folder, name);
}
