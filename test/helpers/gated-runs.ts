/**
 * A workspace for tests that need a run to stay alive (test/fixtures/chains/gate-chain.ts: rows from
 * GATE_FROM on wait for a gate file), with nothing timed: an input of `{ n }` rows in a temp folder,
 * the `run` arguments, and the gated children, SIGKILLed when the file's tests end (a failed test
 * may leave one waiting at its gate).
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";

export interface GatedRuns {
  /** The temp folder (set in beforeAll). */
  readonly work: string;
  readonly input: string;
  /** Children started with a gate: killed after all tests. */
  readonly gated: ChildProcess[];
  /** `run gate-chain -i INPUT -o OUT --quiet ...extra`. */
  readonly args: (out: string, ...extra: string[]) => string[];
}

export function gatedRuns(prefix: string, rows: number): GatedRuns {
  const state = { work: "", input: "", gated: [] as ChildProcess[] };
  beforeAll(() => {
    state.work = mkdtempSync(join(tmpdir(), prefix));
    state.input = join(state.work, "numbers.jsonl");
    writeFileSync(state.input, Array.from({ length: rows }, (_, n) => `${JSON.stringify({ n })}\n`).join(""));
  });
  afterAll(() => {
    for (const child of state.gated) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(state.work, { recursive: true, force: true });
  });
  return {
    get work() {
      return state.work;
    },
    get input() {
      return state.input;
    },
    gated: state.gated,
    args: (out, ...extra) => ["run", "test/fixtures/chains/gate-chain.ts", "-i", state.input, "-o", out, "--quiet", ...extra],
  };
}
