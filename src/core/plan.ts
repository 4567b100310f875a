/**
 * The graph builder: turns a Chain into a validated plan before the first request, reporting every
 * problem at once (unknown template paths, unknown engines, duplicate or reserved ids, type
 * mismatches between a step's inputModel and what reaches it).
 */
import { createHash } from "node:crypto";
import type { z } from "zod";
import { ChainetteError } from "../errors.js";
import type { ApplyNode } from "./apply.js";
import type { Branch } from "./branch.js";
import type { Chain, ChainElement } from "./chain.js";
import { checkPath, propertyNames, toJsonSchema, type JsonSchema } from "./json-schema.js";
import { compilePrompt, type CompiledPrompt } from "./prompt.js";
import { ID_PATTERN, RESERVED_IDS } from "./row-context.js";
import type { Step } from "./step.js";
import { checkInputCompatible } from "./type-check.js";

interface NodePlanBase {
  readonly id: string;
  readonly name: string;
  /** The branch this node runs in, `undefined` on the main flow. */
  readonly branch: string | undefined;
  /** Known shape of the node's output, `undefined` when it cannot be known (untyped apply). */
  readonly outputSchema: JsonSchema | undefined;
  /** Hash of everything that changes the node's results; a resume refuses a changed one. */
  readonly fingerprint: string;
}

export interface StepPlan extends NodePlanBase {
  readonly kind: "step";
  readonly step: Step;
  readonly engineName: string;
  readonly inputSchema: JsonSchema | undefined;
  readonly systemPrompt: CompiledPrompt | undefined;
  readonly userPrompt: CompiledPrompt;
}

export interface ApplyPlan extends NodePlanBase {
  readonly kind: "apply";
  readonly node: ApplyNode;
}

export type NodePlan = StepPlan | ApplyPlan;
export interface BranchPlan {
  readonly name: string;
  readonly alias: string | undefined;
  readonly elements: readonly ElementPlan[];
}
export interface GroupPlan {
  readonly kind: "group";
  readonly branches: readonly BranchPlan[];
}
export type ElementPlan = NodePlan | GroupPlan;

export interface ChainPlan {
  readonly name: string;
  readonly elements: readonly ElementPlan[];
  /** Every node, in the order a row meets them (branches in declaration order). */
  readonly nodes: readonly NodePlan[];
  /** Models the chain input must satisfy (the first nodes' inputModels). */
  readonly inputModels: readonly z.ZodType[];
  readonly inputSchema: JsonSchema | undefined;
  readonly fingerprint: string;
}

export interface PlanOptions {
  /** Engines that exist; when given, a step naming another engine is a problem. */
  engineNames?: ReadonlySet<string>;
}

/** What the walk knows at a point of the chain. */
interface WalkState {
  upstream: JsonSchema | undefined;
  upstreamName: string;
  context: Map<string, JsonSchema | undefined>;
}

export function buildPlan(chain: Chain, options: PlanOptions = {}): ChainPlan {
  const problems: string[] = [];
  const nodes: NodePlan[] = [];
  const seenIds = new Set<string>();
  const inputModels = collectInputModels(chain.steps);
  const inputSchema = inputModels[0] === undefined ? undefined : toJsonSchema(inputModels[0]);

  const context = new Map<string, JsonSchema | undefined>([["chain_input", inputSchema]]);
  const initial: WalkState = { upstream: inputSchema, upstreamName: "the chain input", context };

  const claimId = (id: string, what: string): void => {
    if (!ID_PATTERN.test(id)) problems.push(`${what}: id \`${id}\` must match ${ID_PATTERN.source} (it names a folder and a template key)`);
    else if (RESERVED_IDS.has(id)) problems.push(`${what}: id \`${id}\` is reserved (it names a file or folder of OUTDIR, or a template key); pick another`);
    else if (seenIds.has(id)) problems.push(`${what}: id \`${id}\` is used twice`);
    seenIds.add(id);
  };

  const checkPrompt = (prompt: CompiledPrompt | undefined, label: string, state: WalkState): void => {
    for (const path of prompt?.paths ?? []) {
      const keys = path.split(".");
      const contextSchema = contextAsSchema(state.context, inputSchema);
      if (checkPath(contextSchema, keys) === "missing") {
        const available = [...state.context.keys(), ...Object.keys(inputSchema?.properties ?? {})].sort();
        problems.push(`${label} names {{${path}}}, which no earlier node or the chain input provides (available: ${available.join(", ")})`);
      }
    }
  };

  const walkStep = (step: Step, state: WalkState, branch: string | undefined): WalkState => {
    const label = `step \`${step.id}\``;
    claimId(step.id, label);
    if (options.engineNames && !options.engineNames.has(step.engineName)) {
      const known = [...options.engineNames].join(", ") || "none";
      problems.push(`${label}: engine \`${step.engineName}\` is not declared (declared: ${known})`);
    }
    const inputSchema = step.inputModel ? toJsonSchema(step.inputModel) : undefined;
    const outputSchema = toJsonSchema(step.outputModel);
    if (inputSchema) {
      for (const mismatch of checkInputCompatible(inputSchema, state.upstream)) {
        problems.push(`${label}: inputModel expects ${mismatch}, but ${state.upstreamName} does not provide it`);
      }
    }
    if (propertyNames(outputSchema).includes("row_id")) problems.push(`${label}: outputModel has a field \`row_id\`, which every record uses for the row's identity; rename it`);
    const systemPrompt = step.systemPrompt === undefined ? undefined : compilePrompt(step.systemPrompt);
    const userPrompt = compilePrompt(step.userPrompt);
    checkPrompt(systemPrompt, `${label} systemPrompt`, state);
    checkPrompt(userPrompt, `${label} userPrompt`, state);
    const fingerprint = hash({
      kind: "step", id: step.id, engine: step.engineName, system: systemPrompt?.source ?? null,
      user: userPrompt.source, input: inputSchema ?? null, output: outputSchema, sampling: step.sampling,
      maxRepairs: step.maxRepairs,
    });
    nodes.push({ kind: "step", id: step.id, name: step.name, branch, step, engineName: step.engineName, inputSchema, outputSchema, systemPrompt, userPrompt, fingerprint });
    return advance(state, step.id, outputSchema, label);
  };

  const walkApply = (node: ApplyNode, state: WalkState, branch: string | undefined): WalkState => {
    const label = `apply \`${node.id}\``;
    claimId(node.id, label);
    if (typeof node.fn !== "function") problems.push(`${label}: expected a function, got ${typeof node.fn}`);
    if (node.fanOut && branch !== undefined) problems.push(`${label}: fanOut is not allowed inside branch \`${branch}\` (a join needs one row per branch)`);
    const inputSchema = node.inputModel ? toJsonSchema(node.inputModel) : undefined;
    if (inputSchema) {
      for (const mismatch of checkInputCompatible(inputSchema, state.upstream)) {
        problems.push(`${label}: inputModel expects ${mismatch}, but ${state.upstreamName} does not provide it`);
      }
    }
    const outputSchema = node.outputModel ? toJsonSchema(node.outputModel) : undefined;
    if (propertyNames(outputSchema).includes("row_id")) problems.push(`${label}: outputModel has a field \`row_id\`, which every record uses for the row's identity; rename it`);
    const fingerprint = hash({ kind: "apply", id: node.id, fn: String(node.fn), fanOut: node.fanOut, input: inputSchema ?? null, output: outputSchema ?? null });
    nodes.push({ kind: "apply", id: node.id, name: node.name, branch, node, outputSchema, fingerprint });
    return advance(state, node.id, outputSchema, label);
  };

  const walk = (elements: readonly ChainElement[], state: WalkState, branch: string | undefined): { plans: ElementPlan[]; state: WalkState } => {
    const plans: ElementPlan[] = [];
    for (const element of elements) {
      if (Array.isArray(element)) {
        const group = walkGroup(element, state);
        plans.push(group.plan);
        state = group.state;
      } else if (isStep(element)) {
        state = walkStep(element, state, branch);
        plans.push(nodes[nodes.length - 1] as NodePlan);
      } else if (isApply(element)) {
        state = walkApply(element, state, branch);
        plans.push(nodes[nodes.length - 1] as NodePlan);
      } else {
        problems.push(`${branch ? `branch \`${branch}\`` : `chain \`${chain.name}\``}: expected a Step, an apply node or an array of Branches, got ${describe(element)}`);
      }
    }
    return { plans, state };
  };

  const walkGroup = (branches: readonly Branch[], state: WalkState): { plan: GroupPlan; state: WalkState } => {
    const branchPlans: BranchPlan[] = [];
    const joined = new Map<string, JsonSchema | undefined>();
    const names = new Set<string>();
    for (const branch of branches) {
      if (branch?.kind !== "branch") {
        problems.push(`a parallel group holds ${describe(branch)}; expected only Branch objects`);
        continue;
      }
      if (names.has(branch.name)) problems.push(`branch name \`${branch.name}\` is used twice in one group`);
      names.add(branch.name);
      if (branch.steps.length === 0) problems.push(`branch \`${branch.name}\` has no steps`);
      // Siblings run concurrently on the same row: a branch sees what came before the group only.
      const result = walk(branch.steps, { ...state, context: new Map(state.context) }, branch.name);
      branchPlans.push({ name: branch.name, alias: branch.alias, elements: result.plans });
      if (branch.alias !== undefined) {
        claimId(branch.alias, `join alias of branch \`${branch.name}\``);
        for (const [key, schema] of result.state.context) if (!state.context.has(key)) joined.set(key, schema);
        joined.set(branch.alias, result.state.upstream);
      }
    }
    const context = new Map([...state.context, ...joined]);
    return { plan: { kind: "group", branches: branchPlans }, state: { ...state, context } };
  };

  if (chain.steps.length === 0) problems.push(`chain \`${chain.name}\` has no steps`);
  const { plans } = walk(chain.steps, initial, undefined);
  if (problems.length > 0) {
    throw new ChainetteError("CHAIN_INVALID", `chain \`${chain.name}\` is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
  const fingerprint = hash({ name: chain.name, structure: shapeOf(plans), nodes: nodes.map((n) => n.fingerprint) });
  return { name: chain.name, elements: plans, nodes, inputModels, inputSchema, fingerprint };
}

function advance(state: WalkState, id: string, schema: JsonSchema | undefined, label: string): WalkState {
  const context = new Map(state.context);
  context.set(id, schema);
  return { upstream: schema, upstreamName: `the output of ${label}`, context };
}

function contextAsSchema(context: Map<string, JsonSchema | undefined>, input: JsonSchema | undefined): JsonSchema {
  const properties: Record<string, JsonSchema> = { ...((input?.properties as Record<string, JsonSchema> | undefined) ?? {}) };
  for (const [key, schema] of context) properties[key] = schema ?? {};
  return { type: "object", properties, additionalProperties: input === undefined };
}

/** The inputModels a chain input meets first: the first node of the chain and of each first branch. */
function collectInputModels(elements: readonly ChainElement[]): z.ZodType[] {
  const first = elements[0];
  if (first === undefined) return [];
  if (Array.isArray(first)) return first.flatMap((branch: Branch) => collectInputModels(branch?.steps ?? []));
  return (isStep(first) || isApply(first)) && first.inputModel ? [first.inputModel] : [];
}

function shapeOf(plans: readonly ElementPlan[]): unknown {
  return plans.map((plan) =>
    plan.kind === "group" ? plan.branches.map((b) => ({ name: b.name, alias: b.alias ?? null, elements: shapeOf(b.elements) })) : plan.id,
  );
}

function isStep(value: unknown): value is Step {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "step";
}

function isApply(value: unknown): value is ApplyNode {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "apply";
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const kind = (value as { kind?: unknown }).kind;
  return typeof kind === "string" ? `a ${kind}` : `an object with keys ${Object.keys(value).join(", ")}`;
}

export function hash(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}
