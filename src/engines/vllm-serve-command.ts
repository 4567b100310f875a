/**
 * The command line and environment of the `vllm serve` process a `vllm_local` engine starts:
 * `vllm serve MODEL --host 127.0.0.1 --port PORT` plus flags mapped from the engine's config.
 */
import { ChainetteError } from "../errors.js";
import type { EngineConfig } from "./engine.js";

export interface VllmServeCommand {
  /** The program to spawn. */
  command: string;
  args: string[];
  /** Variables added to the environment (`CUDA_VISIBLE_DEVICES`). */
  env: Record<string, string>;
}

/**
 * The program: `vllm` on PATH, or `CHAINETTE_VLLM_COMMAND`. That value is split on whitespace (no
 * quoting): the first word is the program, the others come before `serve`, so
 * `node /opt/fake-vllm.mjs` or `/opt/venv/bin/vllm` both work; a path with spaces does not.
 */
export function vllmProgram(env: Record<string, string | undefined> = process.env): string[] {
  const configured = env.CHAINETTE_VLLM_COMMAND?.trim();
  return configured === undefined || configured === "" ? ["vllm"] : configured.split(/\s+/);
}

/** Throws `ENGINE_CONFIG` for a config `vllm serve` could not honour. */
export function checkLocalConfig(config: EngineConfig): void {
  if (config.enableReasoning === true && config.reasoningParser === undefined) {
    throw new ChainetteError(
      "ENGINE_CONFIG",
      `Engine \`${config.name}\`: Expected \`reasoning_parser\` (e.g. deepseek_r1, qwen3) with \`enable_reasoning: true\`, got nothing; vLLM enables reasoning through \`--reasoning-parser NAME\``,
    );
  }
  if (config.endpoint !== undefined) {
    throw new ChainetteError("ENGINE_CONFIG", `Engine \`${config.name}\` (vllm_local) starts its own server: Expected no \`endpoint\`, got one; use backend vllm_api for a server you run yourself`);
  }
}

export function vllmServeCommand(config: EngineConfig, port: number, env: Record<string, string | undefined> = process.env): VllmServeCommand {
  checkLocalConfig(config);
  const [command = "vllm", ...prefix] = vllmProgram(env);
  const args = [...prefix, "serve", config.model, "--host", "127.0.0.1", "--port", String(port)];
  if (config.dtype !== undefined) args.push("--dtype", config.dtype);
  if (config.gpuMemoryUtilization !== undefined) args.push("--gpu-memory-utilization", String(config.gpuMemoryUtilization));
  // `enable_reasoning: false` with a parser still turns the parser off: the flag is the switch.
  if (config.reasoningParser !== undefined && config.enableReasoning !== false) args.push("--reasoning-parser", config.reasoningParser);
  const extraEnv: Record<string, string> = {};
  if (config.devices !== undefined) {
    extraEnv.CUDA_VISIBLE_DEVICES = config.devices.join(",");
    if (config.devices.length > 1) args.push("--tensor-parallel-size", String(config.devices.length));
  }
  return { command, args, env: extraEnv };
}
