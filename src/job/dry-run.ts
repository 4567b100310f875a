/**
 * `run --dry-run N`: the first N rows' prompts, rendered exactly as they would be sent, and each
 * step's request (model, sampling, `response_format`), with nothing sent and nothing written. A step
 * that runs after another node reads that node's output, which only the model (or the apply, fed by
 * it) can produce: such a step's prompt is not rendered, the report names the nodes it waits for.
 */
import type { Chain } from "../core/chain.js";
import { buildPlan, type ElementPlan, type StepPlan } from "../core/plan.js";
import type { ChatMessage, EngineConfig } from "../engines/engine.js";
import { requestBody } from "../engines/request-body.js";
import { ChainetteError } from "../errors.js";
import { openSource } from "../io/open-source.js";
import type { OpenSourceOptions, SourceRow } from "../io/source.js";
import { checkInput } from "../pipeline/check-input.js";
import { createRootRow } from "../pipeline/row.js";

export interface DryRunOptions {
  chain: Chain;
  input: string;
  engines: readonly EngineConfig[];
  /** How many rows, from the first. */
  rows: number;
  source?: OpenSourceOptions;
}

export interface DryRunStep {
  id: string;
  engine: string;
  /** The request body as sent, without `messages` (they differ per row). */
  request: Record<string, unknown>;
  /** Nodes that run before this step on a row's path: when any, its prompts need their outputs. */
  after: string[];
}

export interface DryRunPrompt {
  step: string;
  /** The messages as sent; absent when the step runs after other nodes or the row cannot reach it. */
  messages?: ChatMessage[];
  /** Why there are no messages. */
  note?: string;
}

export interface DryRunRow {
  rowId: string;
  input: Record<string, unknown>;
  prompts: DryRunPrompt[];
}

export interface DryRunReport {
  chain: string;
  steps: DryRunStep[];
  rows: DryRunRow[];
}

export async function dryRun(options: DryRunOptions): Promise<DryRunReport> {
  const plan = buildPlan(options.chain, { engineNames: new Set(options.engines.map((engine) => engine.name)) });
  const stepPlans = plan.nodes.filter((node): node is StepPlan => node.kind === "step");
  const after = nodesBefore(plan.elements, []);
  const steps = stepPlans.map((step): DryRunStep => {
    const engine = options.engines.find((config) => config.name === step.engineName);
    if (engine === undefined) throw new ChainetteError("ENGINE_CONFIG", `engine \`${step.engineName}\` of step \`${step.id}\` is not declared`);
    const { messages: _messages, ...request } = requestBody(engine, { messages: [], sampling: step.step.sampling, schema: { name: step.id, jsonSchema: step.outputSchema ?? {} } });
    return { id: step.id, engine: engine.name, request, after: after.get(step.id) ?? [] };
  });
  const source = await openSource(options.input, options.source ?? {});
  const rows: DryRunRow[] = [];
  for (const sourceRow of await firstRows(source.read.bind(source), options.rows)) {
    const row = createRootRow(sourceRow.index, sourceRow.value, sourceRow.end, sourceRow.raw);
    const prompts = stepPlans.map((step): DryRunPrompt => {
      if (sourceRow.error !== undefined) return { step: step.id, note: `the row cannot be read: ${sourceRow.error}` };
      const earlier = after.get(step.id) ?? [];
      if (earlier.length > 0) return { step: step.id, note: `needs the output of ${earlier.map((id) => `\`${id}\``).join(", ")} (not rendered: that takes the model)` };
      const problem = checkInput(step.step.inputModel, row.previous, step.id, "step");
      if (problem !== undefined) return { step: step.id, note: `the row would fail: ${problem.message}` };
      try {
        const messages: ChatMessage[] = [];
        if (step.systemPrompt) messages.push({ role: "system", content: step.systemPrompt.render(row.context) });
        messages.push({ role: "user", content: step.userPrompt.render(row.context) });
        return { step: step.id, messages };
      } catch (error) {
        return { step: step.id, note: `the row would fail: prompt failed: ${(error as Error).message}` };
      }
    });
    rows.push({ rowId: row.id, input: sourceRow.value, prompts });
  }
  return { chain: plan.name, steps, rows };
}

/** Each node's predecessors on a row's path: what ran before it in its flow and the flows around it. */
function nodesBefore(elements: readonly ElementPlan[], before: readonly string[]): Map<string, string[]> {
  const result = new Map<string, string[]>();
  let seen = [...before];
  for (const element of elements) {
    if (element.kind === "group") {
      const inGroup: string[] = [];
      for (const branch of element.branches) {
        for (const [id, earlier] of nodesBefore(branch.elements, seen)) {
          result.set(id, earlier);
          inGroup.push(id);
        }
      }
      seen = [...seen, ...inGroup];
    } else {
      result.set(element.id, seen);
      seen = [...seen, element.id];
    }
  }
  return result;
}

async function firstRows(read: (from: { row: number }, options: { batchSize: number; signal?: AbortSignal }) => AsyncIterable<SourceRow[]>, count: number): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  if (count === 0) return rows;
  const controller = new AbortController();
  try {
    for await (const batch of read({ row: 0 }, { batchSize: Math.min(count, 256), signal: controller.signal })) {
      for (const row of batch) if (rows.length < count) rows.push(row);
      if (rows.length >= count) break;
    }
  } finally {
    controller.abort();
  }
  return rows;
}
