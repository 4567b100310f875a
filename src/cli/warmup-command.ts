/**
 * `chainette-stream warmup -f ENGINES.yml [-e NAME…]`: starts the `vllm_local` engines of an
 * engines YAML (by default every one that is not `lazy`), waits until each answers `/health`,
 * records them in the state directory and exits, leaving the servers running for later runs
 * and for `chainette-stream kill`. An engine already running and healthy is reused.
 */
import { parseArgs } from "node:util";
import type { EngineConfig } from "../engines/engine.js";
import { loadEnginesYaml } from "../engines/engines-yaml.js";
import { readLocalEngines, recordLocalEngine, stateDirectory } from "../engines/local-engine-state.js";
import { resolveEngineConfigs } from "../engines/resolve-engine-configs.js";
import { isHealthy, startVllmServer } from "../engines/vllm-process.js";
import { ChainetteError } from "../errors.js";
import { EXIT } from "./exit-codes.js";

const WARMUP_HELP = `Usage: chainette-stream warmup -f ENGINES.yml [-e NAME ...]

Starts vllm_local engines (\`vllm serve\`, or $CHAINETTE_VLLM_COMMAND), waits until each answers
GET /health with 200, records them in $CHAINETTE_STATE_DIR (default ~/.chainette-stream) and exits;
the servers keep running until \`chainette-stream kill\`.

  -f, --file ENGINES.yml   engines YAML (required)
  -e, --engine NAME        an engine to start (repeatable); default: every vllm_local engine not lazy
`;

export const WARMUP_OPTIONS = { file: { type: "string", short: "f" }, engine: { type: "string", short: "e", multiple: true }, help: { type: "boolean", short: "h" } } as const;

export async function warmupCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: WARMUP_OPTIONS,
  });
  if (values.help) {
    process.stdout.write(WARMUP_HELP);
    return EXIT.ok;
  }
  if (values.file === undefined) throw new ChainetteError("USAGE", `warmup needs -f ENGINES.yml\n\n${WARMUP_HELP}`);
  const configs = resolveEngineConfigs({ registered: [], yaml: await loadEnginesYaml(values.file) });
  const chosen = pickEngines(configs, values.engine ?? [], values.file);
  const directory = stateDirectory();
  for (const config of chosen) {
    const running = readLocalEngines(directory).find((entry) => entry.name === config.name);
    if (running !== undefined && running.model === config.model && (await isHealthy(running.url))) {
      process.stdout.write(`${config.name}\talready running\t${running.url}\t(pid ${running.pid})\n`);
      continue;
    }
    process.stderr.write(`${config.name}: starting vllm serve ${config.model} ...\n`);
    const server = await startVllmServer(config);
    recordLocalEngine({ name: config.name, pid: server.pid, url: server.url, model: config.model, started_at: new Date().toISOString(), started_by: "warmup", log: server.log }, directory);
    process.stdout.write(`${config.name}\tstarted\t${server.url}\t(pid ${server.pid}, log ${server.log})\n`);
  }
  if (chosen.length === 0) process.stderr.write(`${values.file} declares no vllm_local engine that is not lazy; name one with -e\n`);
  return EXIT.ok;
}

function pickEngines(configs: readonly EngineConfig[], names: readonly string[], file: string): EngineConfig[] {
  if (names.length === 0) return configs.filter((config) => config.backend === "vllm_local" && config.lazy !== true);
  return names.map((name) => {
    const config = configs.find((candidate) => candidate.name === name);
    if (config === undefined) {
      throw new ChainetteError("USAGE", `Expected -e to name an engine of ${file} (${configs.map((candidate) => candidate.name).join(", ") || "none"}), got \`${name}\``);
    }
    if (config.backend !== "vllm_local") throw new ChainetteError("USAGE", `Expected -e to name a vllm_local engine, got \`${name}\` (backend ${config.backend})`);
    return config;
  });
}
