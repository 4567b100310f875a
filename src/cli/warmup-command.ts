/**
 * `chainette-stream warmup -f ENGINES.yml [-e NAME…]`: starts the `vllm_local` engines of an
 * engines YAML (by default every one that is not `lazy`) through the broker, waits until each
 * answers `/health` and exits, leaving the servers running, kept (never stopped for idleness), for
 * later runs and `chainette-stream kill`. A managed server of the same model and options is reused.
 */
import { parseArgs } from "node:util";
import type { EngineConfig } from "../engines/engine.js";
import { loadEnginesYaml } from "../engines/engines-yaml.js";
import { resolveEngineConfigs } from "../engines/resolve-engine-configs.js";
import { acquireServer, checkDeviceClaims } from "../engines/server-broker.js";
import { ChainetteError } from "../errors.js";
import { EXIT } from "./exit-codes.js";

const WARMUP_HELP = `Usage: chainette-stream warmup -f ENGINES.yml [-e NAME ...]

Starts vllm_local engines (\`vllm serve\`, or $CHAINETTE_VLLM_COMMAND), waits until each answers
GET /health with 200, records them in $CHAINETTE_STATE_DIR (default ~/.chainette-stream) and exits;
the servers keep running, whatever their idle_timeout, until \`chainette-stream kill\`.

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
  checkDeviceClaims(chosen);
  for (const config of chosen) {
    process.stderr.write(`${config.name}: vllm serve ${config.model} ...\n`);
    const lease = await acquireServer(config, { keep: true });
    process.stdout.write(`${config.name}\t${lease.started ? "started" : "already running"}\t${lease.url}\t(pid ${lease.pid}, log ${lease.log})\n`);
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
