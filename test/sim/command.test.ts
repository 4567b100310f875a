import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { isChainetteError } from "../../src/errors.js";
import { startSimulator } from "../../src/sim/index.js";
import { parseSimArguments } from "../../src/sim/command.js";
import { getText } from "./sim-client.js";

describe("options", () => {
  it.each([
    [{ maxNumSeqs: 0 }, "Expected `maxNumSeqs` to be an integer >= 1, got `0`"],
    [{ timeScale: -1 }, "Expected `timeScale` to be a number >= 0, got `-1`"],
    [{ port: 70000 }, "Expected `port` to be an integer from 0 to 65535, got `70000`"],
    [{ profile: "a100" as never }, 'Expected `profile` to be one of llama-3.1-8b-h100, instant, ollama-laptop, got `"a100"`'],
    [{ faults: { http500: 1.5 } }, "Expected `faults.http500` to be a rate from 0 to 1 or a list of request ordinals, got `1.5`"],
    [{ faults: { http500: 0.6, hang: 0.6 } }, "Expected the fault rates to add up to at most 1, got `1.2`"],
  ])("rejects %j with a USAGE error naming the option and the value", async (options, message) => {
    const error: unknown = await startSimulator(options).then(async (sim) => sim.close(), (problem: unknown) => problem);
    expect(isChainetteError(error, "USAGE")).toBe(true);
    expect((error as Error).message).toBe(message);
  });

  it("lets explicit options override the profile", async () => {
    const sim = await startSimulator({ profile: "ollama-laptop", maxNumSeqs: 9 });
    expect(sim.options).toMatchObject({ profile: "ollama-laptop", maxNumSeqs: 9, interTokenLatencyMs: 33 });
    await sim.close();
  });
});

describe("chainette-stream sim", () => {
  it("maps flags to options, rates and ordinal schedules included", () => {
    expect(parseSimArguments(["--port", "0", "--max-num-seqs", "8", "--time-scale", "50", "--fault-500", "0.05", "--fault-429", "3,7", "--retry-after", "2", "--dead-after", "100", "--slow-start", "1.5", "--model", "m"])).toEqual({
      port: 0, maxNumSeqs: 8, timeScale: 50, model: "m",
      faults: { http500: 0.05, http429: [3, 7], retryAfterSeconds: 2, deadAfterRequests: 100, slowStartSeconds: 1.5 },
    });
    expect(parseSimArguments(["--help"])).toBe("help");
    expect(() => parseSimArguments(["--port", "eight"])).toThrow("Expected `--port` to be a number, got `eight`");
  });

  it("runs as a process: prints the URL, serves, and exits 0 on SIGTERM", async () => {
    const script = `import { runSimCommand } from "./src/sim/command.ts"; process.exitCode = await runSimCommand(process.argv.slice(1));`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, "--", "--port", "0", "--profile", "instant"], { stdio: ["ignore", "pipe", "inherit"] });
    const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
    const match = /^sim listening on (http:\/\/127\.0\.0\.1:\d+) {2}\(OpenAI base URL: http:\/\/127\.0\.0\.1:\d+\/v1\)$/.exec(line);
    expect(match, line).not.toBeNull();
    expect((await getText(`${match?.[1] ?? ""}/health`)).status).toBe(200);
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(0);
  });

  it("exits 2 with a message for bad usage", async () => {
    // Usage errors reach the CLI's one place for them (the message, the code, exit 2).
    const child = spawn(process.execPath, ["dist/cli/main.js", "sim", "--max-num-seqs", "0"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(2);
    expect(stderr).toContain("Expected `maxNumSeqs` to be an integer >= 1, got `0`");
  });
});
