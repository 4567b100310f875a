/** `graph.json`: the DAG as it ran (nodes, prompts, schemas, fingerprints), engines, invocation, input. */
import type { ChainPlan, ElementPlan } from "../core/plan.js";
import type { EngineConfig } from "../engines/engine.js";
import { redactEngineConfig } from "../engines/redact-engine-config.js";
import type { InputFingerprint } from "../io/source.js";

export function graphJson(plan: ChainPlan, fields: { engines: readonly EngineConfig[]; invocation: readonly string[]; input: InputFingerprint; format: string }): unknown {
  const used = new Set(plan.nodes.flatMap((node) => (node.kind === "step" ? [node.engineName] : [])));
  return {
    chain: plan.name,
    fingerprint: plan.fingerprint,
    input_schema: plan.inputSchema ?? null,
    elements: plan.elements.map(describeElement),
    nodes: plan.nodes.map((node) =>
      node.kind === "step"
        ? {
            id: node.id, kind: "step", name: node.name, branch: node.branch ?? null, engine: node.engineName,
            system_prompt: node.systemPrompt?.source ?? null, user_prompt: node.userPrompt.source,
            input_schema: node.inputSchema ?? null, output_schema: node.outputSchema, sampling: node.step.sampling,
            max_repairs: node.step.maxRepairs, fingerprint: node.fingerprint,
          }
        : {
            id: node.id, kind: "apply", name: node.name, branch: node.branch ?? null, fan_out: node.node.fanOut,
            output_schema: node.outputSchema ?? null, fingerprint: node.fingerprint,
          },
    ),
    engines: fields.engines.filter((engine) => used.has(engine.name)).map(redactEngineConfig),
    invocation: fields.invocation,
    input: fields.input,
    format: fields.format,
  };
}

function describeElement(element: ElementPlan): unknown {
  if (element.kind !== "group") return element.id;
  return { parallel: element.branches.map((branch) => ({ branch: branch.name, join: branch.alias ?? null, steps: branch.elements.map(describeElement) })) };
}
