import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { countLines } from "../../src/io/count-lines.js";

const dir = mkdtempSync(join(tmpdir(), "count-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("countLines", () => {
  it.each([
    ["", 0],
    ["{}", 1],
    ["{}\n", 1],
    ["{}\n{}\n", 2],
    ["{}\n\n{}\n\n", 2],
    ["\n\n{}", 1],
    ["{}\r\n{}\r\n", 2],
  ])("counts %j as %i rows", async (text, expected) => {
    const path = join(dir, `f${Math.random()}.jsonl`);
    writeFileSync(path, text);
    expect(await countLines(path)).toBe(expected);
  });

  it("counts across chunk boundaries", async () => {
    const path = join(dir, "big.jsonl");
    writeFileSync(path, `${"x".repeat(3 << 20)}\n\n${"{}\n".repeat(100_000)}`);
    expect(await countLines(path)).toBe(100_001);
  });
});
