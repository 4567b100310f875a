/**
 * The live view fits the terminal: every line of a busy run's view (long chain and node names,
 * millions of rows, engines down, a stop under way) stays narrower than the terminal at 60, 80 and
 * 160 columns, in colour or not; a resize erases the rewrapped frame and draws one that fits.
 */
import { PassThrough } from "node:stream";
import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import { colorWanted, visibleWidth } from "../../src/cli/format.js";
import { ProgressView } from "../../src/cli/progress-view.js";
import { renderProgress, renderStatusLine } from "../../src/cli/render-progress.js";
import { RunStats } from "../../src/cli/run-stats.js";

const chainName = "multilingual-product-catalogue-enrichment";
const nodes = ["extract_product_attributes_from_description", "translate", "normalise_prices_and_units"];

/** A run partway through, folded from the events a run emits. */
function busyStats(): RunStats {
  const stats = new RunStats();
  stats.onEvent({ type: "run-start", total: 12_345_678, resumedRows: 1_234_567, nodes });
  for (let batch = 0; batch < 40; batch++) {
    for (const node of nodes) {
      stats.onEvent({ type: "node-start", node });
      stats.onEvent({ type: "node-end", node, status: batch % 7 === 0 ? "failed" : "ok", started: true, latencyMs: 900, inputTokens: 123_456_789, outputTokens: 98_765_432 });
      stats.onEvent({ type: "node-batch", node, ok: 250_000, failed: 1_234, filtered: 56_789, latencyMs: 0.1 });
    }
    stats.onEvent({ type: "commit", rows: 65_536, ok: 60_000, failed: 1_536, filtered: 4_000, watermark: batch });
    stats.onEvent({ type: "request-retry", engine: "llama3", attempt: 1, reason: "HTTP 503", delayMs: 10, endpoint: "http://gpu-1:8000/v1" });
  }
  stats.onEvent({ type: "engine-down", engine: "llama-3.1-70b-instruct-judge", reason: "ECONNREFUSED" });
  stats.onEvent({ type: "engine-down", engine: "qwen2.5-7b-translator", reason: "HTTP 503" });
  stats.onEvent({ type: "concurrency-limit", engine: "llama3", endpoint: "http://gpu-1:8000/v1", limit: 40, policy: "queue", slots: 32 });
  stats.onEvent({ type: "concurrency-limit", engine: "llama3", endpoint: "http://gpu-2:8000/v1", limit: 18, policy: "queue", slots: 16 });
  stats.onEvent({ type: "concurrency-limit", engine: "llama3", endpoint: "http://gpu-1:8000/v1", limit: 36, policy: "queue", slots: 32 });
  stats.onEvent({ type: "stop-requested", reason: "Ctrl-C", graceMs: 30_000 });
  return stats;
}

describe("renderProgress", () => {
  for (const columns of [60, 80, 160]) {
    for (const color of [false, true]) {
      it(`fits ${columns} columns${color ? " in colour" : ""}, keeping progress, ETA, a stop under way and engines down`, () => {
        const lines = renderProgress(busyStats(), { chainName, columns, color });
        expect(lines).toHaveLength(1 + nodes.length);
        for (const line of lines) expect(visibleWidth(line), line).toBeLessThan(columns);
        const status = stripVTControlCharacters(lines[0] ?? "");
        expect(status).toMatch(/%/);
        expect(status).toContain("ETA");
        expect(status).toContain("DOWN");
        expect(status).toContain("stopping");
        for (const [index, line] of lines.slice(1).entries()) {
          expect(stripVTControlCharacters(line)).toMatch(/^ {2}\S/);
          expect(stripVTControlCharacters(line)).toContain((nodes[index] ?? "").slice(0, 8));
        }
        expect(lines.join("\n").includes("\x1b[")).toBe(color);
      });
    }
  }

  it("keeps the elapsed time beside the ETA at 60 columns when nothing else crowds the line", () => {
    const stats = new RunStats();
    stats.onEvent({ type: "run-start", total: 3000, resumedRows: 0, nodes: ["qa", "keep"] });
    stats.onEvent({ type: "commit", rows: 768, ok: 540, failed: 0, filtered: 228, watermark: 767 });
    const [status] = renderProgress(stats, { chainName: "simple-qa", columns: 60 });
    expect(status).toMatch(/^simple-qa: 768\/3,000 \(25\.6%\) \| .*up \d+s, ETA \S+/);
    expect(visibleWidth(status ?? "")).toBeLessThan(60);
  });

  it("shows everything, elapsed time beside the ETA, when the terminal is wide", () => {
    const [status, ...nodeLines] = renderProgress(busyStats(), { chainName: "simple-qa", columns: 300 });
    expect(status).toMatch(/^simple-qa: [\d,]+\/12,345,678 rows \(\d+\.\d%\) \| stopping \(Ctrl-C\) \| DOWN: llama-3\.1-70b-instruct-judge, qwen2\.5-7b-translator \| [\d.k]+ rows\/s \| elapsed \d+s, ETA \S+ \| ok [\d,]+ failed [\d,]+ filtered [\d,]+ \| [\d.k]+ tok\/s \| concurrency 36\+18 \| retries 40$/);
    for (const line of nodeLines) expect(line).toMatch(/ done {2}in-flight 0 {2}failed [\d,]+ {2}filtered [\d,]+ {2}tokens [\d,]+→[\d,]+$/);
  });

  it("shows the current concurrency limit of each endpoint (the latest of each)", () => {
    const line = renderStatusLine(busyStats(), chainName);
    expect(line).toContain("concurrency 36+18");
    const narrow = renderProgress(busyStats(), { chainName: "c", columns: 60 })[0] ?? "";
    expect(narrow).not.toContain("conc");
  });

  it("gives the non-terminal log the full line, without colour", () => {
    const line = renderStatusLine(busyStats(), chainName);
    expect(line).toContain(`${chainName}: `);
    expect(line).toContain("retries 40");
    expect(line).not.toContain("\x1b[");
  });
});

describe("colorWanted", () => {
  it("honours NO_COLOR, FORCE_COLOR and TERM=dumb", () => {
    expect(colorWanted({ isTTY: true }, {})).toBe(true);
    expect(colorWanted({ isTTY: false }, {})).toBe(false);
    expect(colorWanted({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(colorWanted({ isTTY: true }, { NO_COLOR: "1", FORCE_COLOR: "1" })).toBe(false);
    expect(colorWanted({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
    expect(colorWanted({ isTTY: true }, { FORCE_COLOR: "0" })).toBe(false);
    expect(colorWanted({ isTTY: true }, { TERM: "dumb" })).toBe(false);
  });
});

describe("ProgressView on a terminal", () => {
  it("redraws on resize: erases every row the narrower terminal rewrapped the frame into, then fits", () => {
    const terminal = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
    let written = "";
    terminal.on("data", (chunk: Buffer) => (written += chunk.toString()));
    const stats = busyStats();
    const view = new ProgressView({ mode: "tty", stats, chainName, stream: terminal as unknown as NodeJS.WriteStream, intervalMs: 3_600_000, color: false });
    view.start();
    view.onEvent({ type: "engine-up", engine: "nobody" }); // a note: draws the first frame
    const [note, ...wide] = written.split("\n").filter((line) => line !== "");
    expect(note).toBe("engine nobody is back");
    expect(wide.length).toBe(1 + nodes.length);
    const rowsAt60 = wide.reduce((sum, line) => sum + Math.ceil(visibleWidth(line) / 60), 0);
    expect(rowsAt60).toBeGreaterThan(wide.length);

    written = "";
    terminal.columns = 60;
    terminal.emit("resize");
    expect(written.startsWith(`\r\x1b[${rowsAt60}F\x1b[0J`)).toBe(true);
    const frame = written.slice(`\r\x1b[${rowsAt60}F\x1b[0J`.length).split("\n").filter((line) => line !== "");
    expect(frame).toHaveLength(1 + nodes.length);
    for (const line of frame) expect(visibleWidth(line)).toBeLessThan(60);
    view.stop();
  });
});
