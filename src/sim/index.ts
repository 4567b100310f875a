/**
 * The bundled vLLM-compatible simulator: `startSimulator()` for tests and demos, `runSimCommand()`
 * behind `chainette-stream sim`. See docs/simulator.md.
 */
export { startSimulator, SIMULATED_VLLM_VERSION } from "./server.js";
export type { Simulator } from "./server.js";
export { PROFILES } from "./options.js";
export type { SimulatorOptions, PerformanceOptions, ProfileName, ResolvedOptions, SchedulingPolicy } from "./options.js";
export { REQUEST_FAULT_KINDS } from "./faults.js";
export type { FaultOptions, FaultRate, FaultKind, RequestFaultKind } from "./faults.js";
export type { SimulatorStats } from "./simulator-state.js";
export { generateFromSchema } from "./schema-generator.js";
export type { JsonSchema } from "./schema-generator.js";
export { runSimCommand } from "./command.js";
