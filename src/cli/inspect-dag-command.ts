/** `chainette-stream inspect-dag CHAIN_FILE[:EXPORT]`: the DAG as a tree, validated, no requests. */
import { parseArgs } from "node:util";
import { buildPlan, type ElementPlan } from "../core/plan.js";
import { loadEnginesYaml } from "../engines/engines-yaml.js";
import { resolveEngineConfigs } from "../engines/resolve-engine-configs.js";
import { ChainetteError } from "../errors.js";
import { EXIT } from "./exit-codes.js";
import { loadChain } from "./load-chain.js";

const INSPECT_DAG_HELP = `Usage: chainette-stream inspect-dag CHAIN_FILE[:EXPORT] [--engines FILE] [--endpoint NAME=URL ...]

Loads a chain, validates it (every template path, every engine) and prints its DAG as a tree, with
each step's engine and model and its output fields. Sends no request. Exits 2 when it is invalid.

  --engines FILE        engines YAML (entries override registerEngine of the same name)
  --endpoint NAME=URL   override one engine's endpoint (repeatable)
  -h, --help            show this help
`;

export const INSPECT_DAG_OPTIONS = { engines: { type: "string" }, endpoint: { type: "string", multiple: true }, help: { type: "boolean", short: "h" } } as const;

export async function inspectDagCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: INSPECT_DAG_OPTIONS });
  if (values.help) {
    process.stdout.write(INSPECT_DAG_HELP);
    return EXIT.ok;
  }
  const argument = positionals[0];
  if (argument === undefined) throw new ChainetteError("USAGE", "inspect-dag needs CHAIN_FILE (`chainette-stream inspect-dag --help` says more)");
  const { chain } = await loadChain(argument);
  const yaml = values.engines === undefined ? [] : await loadEnginesYaml(values.engines);
  const engines = resolveEngineConfigs({ yaml, endpointOverrides: values.endpoint ?? [] });
  const plan = buildPlan(chain, { engineNames: new Set(engines.map((engine) => engine.name)) });
  const lines = [`${plan.name}  (fingerprint ${plan.fingerprint})`, `input${plan.inputSchema ? `: ${Object.keys(plan.inputSchema.properties ?? {}).join(", ")}` : " (untyped)"}`];
  const walk = (elements: readonly ElementPlan[], indent: string): void => {
    elements.forEach((element, position) => {
      const last = position === elements.length - 1;
      const branchIndent = `${indent}${last ? "   " : "│  "}`;
      const head = `${indent}${last ? "└─ " : "├─ "}`;
      if (element.kind === "group") {
        lines.push(`${head}parallel`);
        element.branches.forEach((branch, index) => {
          const lastBranch = index === element.branches.length - 1;
          lines.push(`${branchIndent}${lastBranch ? "└─ " : "├─ "}branch ${branch.name}${branch.alias ? ` → joins as {{${branch.alias}.…}}` : " (side branch)"}`);
          walk(branch.elements, `${branchIndent}${lastBranch ? "   " : "│  "}`);
        });
      } else if (element.kind === "step") {
        const model = engines.find((engine) => engine.name === element.engineName)?.model ?? "?";
        lines.push(`${head}step ${element.id} [${element.engineName}: ${model}] → ${Object.keys(element.outputSchema?.properties ?? {}).join(", ")}`);
      } else {
        lines.push(`${head}apply ${element.id}${element.node.fanOut ? " (fan-out)" : ""}`);
      }
    });
  };
  walk(plan.elements, "");
  lines.push(`valid: ${plan.nodes.length} node(s), every template path and engine checked`);
  process.stdout.write(`${lines.join("\n")}\n`);
  return EXIT.ok;
}
