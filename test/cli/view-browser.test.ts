/**
 * The viewer page in a real browser (playwright-core driving Debian's Chromium) against a run on the
 * simulator held alive in another process: the tiles move as the run moves, a chart draws, an error
 * group filters the errors, a row opens with its records, a reply holding `<script>` is shown as
 * text and never runs, and the page goes on to show the run complete. Skipped without
 * /usr/bin/chromium, unless CHAINETTE_BROWSER=1 (CI installs it): then it must run.
 * UPDATE_SCREENSHOTS=1 writes the screenshots in docs/.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { repoRoot, startCli } from "../helpers/cli.js";
import { startViewer, type ViewerProcess } from "../helpers/viewer.js";
import { lineCount, waitFor } from "../helpers/wait-for.js";

const CHROMIUM = "/usr/bin/chromium";
const required = process.env.CHAINETTE_BROWSER === "1";
const available = existsSync(CHROMIUM);
const rows = 120;

let work: string;
let simulator: Simulator;
let viewer: ViewerProcess;
let context: BrowserContext;
let page: Page;
let run: ReturnType<typeof startCli>;
const gate = (): string => join(work, "gate");
const pageErrors: string[] = [];

describe.skipIf(!available && !required)("the viewer page in Chromium", () => {
  beforeAll(async () => {
    if (!available) throw new Error(`CHAINETTE_BROWSER=1 but ${CHROMIUM} is missing (.ci/setup-chromium.sh installs it)`);
    work = mkdtempSync(join(tmpdir(), "view-browser-"));
    const input = join(work, "in.jsonl");
    writeFileSync(input, Array.from({ length: rows }, (_, n) => `${JSON.stringify({ n, text: `row ${n}` })}\n`).join(""));
    simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model", seed: 11, faults: { http500: 0.08, invalidJson: 0.06 } });
    const out = join(work, "out");
    run = startCli(["run", "test/fixtures/chains/viewer-chain.ts", "-i", input, "-o", out, "--quiet", "--commit-interval", "20", "--circuit-breaker", "off", "--max-lines-per-file", "25"], {
      env: { SIM_URL: simulator.url, GATE_FILE: gate(), GATE_FROM: "40" },
    });
    await waitFor(() => lineCount(join(out, "gate", "001.jsonl")) >= 15, "the run's first 40 rows");
    viewer = await startViewer(out);
    context = await chromium.launchPersistentContext(join(work, "chromium-profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1400, height: 1000 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("dialog", (dialog) => {
      pageErrors.push(`a dialog opened: ${dialog.message()}`);
      void dialog.dismiss();
    });
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    await viewer?.stop();
    run?.child.kill("SIGKILL");
    await simulator?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("shows a live run move, its charts, errors, rows and a row's detail, then the run complete", async () => {
    await page.goto(`${viewer.url}/`);
    await page.waitForSelector("#state[data-state=running]");
    await expect.poll(() => page.textContent("#tile-done"), { timeout: 30_000 }).toBe("40");

    // The tiles move: let 40 more rows through.
    writeFileSync(gate(), "80");
    await expect.poll(() => page.textContent("#tile-done"), { timeout: 30_000 }).toBe("80");

    // A chart draws: points, and pixels of the series' colour.
    await expect.poll(() => page.getAttribute("#chart-throughput", "data-points"), { timeout: 30_000 }).toMatch(/^[1-9]/);
    // Run in the page (a string: this project's types have no DOM).
    const drawn = await page.evaluate(`(() => {
      const canvas = document.getElementById("chart-throughput");
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let blue = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i + 2] > 150 && data[i] < 120 && data[i + 3] > 0) blue++;
      return blue;
    })()`);
    expect(drawn).toBeGreaterThan(10);

    // Errors grouped by type; a click filters to one group and lists its rows.
    const groups = page.locator("#error-groups tbody tr[data-type]");
    await expect.poll(() => groups.count(), { timeout: 30_000 }).toBe(2);
    const type = await groups.nth(1).getAttribute("data-type");
    await groups.nth(1).click();
    await expect.poll(() => groups.count()).toBe(1);
    expect(await groups.first().getAttribute("data-type")).toBe(type);
    await expect.poll(() => page.locator("#failures tbody tr").count()).toBeGreaterThan(0);
    expect(await page.textContent("#failures-title")).toContain(type);
    if (process.env.UPDATE_SCREENSHOTS === "1") await page.screenshot({ path: join(repoRoot, "docs/viewer-live.png") });

    // A row opens; the reply's markup is text in the page, and nothing ran.
    await page.selectOption("#folder", "tag");
    await expect.poll(() => page.locator("#rows tbody tr td.text").first().textContent()).toContain('"label"');
    await page.click("#rows tbody tr");
    await page.waitForSelector("#detail:not([hidden])");
    const detail = await page.textContent("#detail-records");
    expect(detail).toMatch(/<script>window.__pwned = 1<\/script>|<img src=x onerror/);
    expect(await page.locator("#detail-records script, #detail-records img, #rows script, #rows img").count()).toBe(0);
    expect(await page.evaluate("typeof window.__pwned")).toBe("undefined");
    expect(await page.textContent("#detail-note")).toContain("not recorded");
    if (process.env.UPDATE_SCREENSHOTS === "1") await page.locator("#detail").screenshot({ path: join(repoRoot, "docs/viewer-row.png") });

    // The run ends; the page stays and says so.
    writeFileSync(gate(), String(rows));
    expect((await run.done).code).toBe(0);
    await page.waitForSelector("#state[data-state=complete]", { timeout: 30_000 });
    await expect.poll(() => page.textContent("#tile-done")).toBe(`${rows} / ${rows}`);
    expect(await page.textContent("#tile-eta")).toBe("done");
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
