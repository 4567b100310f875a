/** chainette-stream: typed LLM pipelines that stream over millions of rows and resume exactly once. */
import { setChainRunner } from "./core/chain-runner.js";

// `chain.run()` loads the pipeline on first use: importing the package stays cheap.
setChainRunner(async function* (chain, inputs, options) {
  const { runChainIterable } = await import("./job/run-iterable.js");
  yield* runChainIterable(chain, inputs, options);
});

export { Step, type StepOptions } from "./core/step.js";
export {
  Chain,
  type ChainConstructor,
  type ChainElement,
  type ChainInput,
  type ChainOptions,
  type ChainOutput,
  type ChainRunOptions,
  type RowResult,
  type RowResultError,
  type RowUsage,
} from "./core/chain.js";
export { Branch, type BranchOptions } from "./core/branch.js";
export { apply, type ApplyFunction, type ApplyNode, type ApplyOptions, type ApplyOutput } from "./core/apply.js";
export type { Prompt, RowContext } from "./core/row-context.js";
export type { SamplingParams } from "./core/sampling.js";
export { buildPlan, type ChainPlan, type PlanOptions } from "./core/plan.js";
export { ChainetteError, isChainetteError, type ErrorCode } from "./errors.js";
export {
  clearRegisteredEngines,
  createEngine,
  loadEnginesYaml,
  redactEngineConfig,
  registerEngine,
  registeredEngines,
  resolveEngineConfigs,
  type Backend,
  type ChatMessage,
  type EndpointState,
  type Engine,
  type EngineConfig,
  type EngineDeclaration,
  type EngineEvent,
  type GenerateRequest,
  type GenerateResult,
} from "./engines/index.js";
export { openSource } from "./io/open-source.js";
export type { Source, SourceRow, SourcePosition, InputFingerprint, InputFileFingerprint, OpenSourceOptions } from "./io/source.js";
export { runJob, type RunJobOptions, type RunJobResult } from "./job/run-job.js";
export { RunEvents, type RowEventType, type RunEvent, type RunListener, type RunStatus } from "./pipeline/events.js";
export { RunControl } from "./job/run-control.js";
export { resolveShard, shardRunFolder, type ShardSpec } from "./job/shard-spec.js";
export { mergeShards, type MergeResult, type MergedSummary } from "./job/merge-shards.js";
export type { RunSummary } from "./job/summary.js";
export { startSimulator, type Simulator, type SimulatorOptions } from "./sim/index.js";
