/**
 * A `vllm_local` engine: before its first request it finds a server `chainette-stream warmup` left
 * running (recorded in the state directory, alive and healthy), or starts `vllm serve` itself. Either
 * way requests then go through an `HttpEngine` as for `vllm_api`. A server this engine started is
 * stopped by `close()`; a warmed one is left running for `kill`.
 */
import { ChainetteError } from "../errors.js";
import { checkServedModel } from "./check-served-model.js";
import type { Engine, EngineConfig, GenerateRequest, GenerateResult } from "./engine.js";
import { forgetLocalEngine, readLocalEngines, recordLocalEngine, stateDirectory } from "./local-engine-state.js";
import { isHealthy, startVllmServer, stopProcessGroup, type VllmServer } from "./vllm-process.js";
import { checkLocalConfig } from "./vllm-serve-command.js";

export interface LocalVllmEngineOptions {
  /** Builds the HTTP engine once the server's URL is known (createEngine with backend vllm_api). */
  connect: (config: EngineConfig) => Engine;
  /** @default process.env */
  env?: Record<string, string | undefined>;
  /** Seconds-long grace between SIGTERM and SIGKILL when stopping an owned server. @default 30_000 */
  stopGraceMs?: number;
}

export class LocalVllmEngine implements Engine {
  readonly name: string;
  readonly config: EngineConfig;
  readonly #options: LocalVllmEngineOptions;
  readonly #abort = new AbortController();
  #ready: Promise<Engine> | undefined;
  #ownedPid: number | undefined;
  #closed = false;

  constructor(config: EngineConfig, options: LocalVllmEngineOptions) {
    checkLocalConfig(config);
    this.name = config.name;
    this.config = config;
    this.#options = options;
    // A non-lazy engine starts with the run; a lazy one before its first request.
    if (config.lazy !== true) this.#start().catch(() => undefined);
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    if (this.#closed) throw new ChainetteError("ABORTED", `Engine \`${this.name}\` is closed`);
    const engine = await this.#start();
    return engine.generate(request);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    const engine = await this.#ready?.catch(() => undefined);
    await engine?.close();
    const pid = this.#ownedPid;
    if (pid !== undefined) {
      await stopProcessGroup(pid, this.#options.stopGraceMs ?? 30_000);
      forgetLocalEngine(this.name, pid, stateDirectory(this.#env));
    }
  }

  get #env(): Record<string, string | undefined> {
    return this.#options.env ?? process.env;
  }

  #start(): Promise<Engine> {
    this.#ready ??= this.#resolve();
    return this.#ready;
  }

  async #resolve(): Promise<Engine> {
    const directory = stateDirectory(this.#env);
    const warmed = readLocalEngines(directory).find((entry) => entry.name === this.name && entry.started_by === "warmup");
    let url: string;
    if (warmed !== undefined && warmed.model === this.config.model && (await isHealthy(warmed.url))) {
      url = warmed.url;
    } else {
      const server: VllmServer = await startVllmServer(this.config, {
        env: this.#env,
        signal: this.#abort.signal,
        onSpawn: (pid) => (this.#ownedPid = pid),
      });
      url = server.url;
      recordLocalEngine({ name: this.name, pid: server.pid, url, model: this.config.model, started_at: new Date().toISOString(), started_by: "run", log: server.log }, directory);
      if (this.#closed) throw new ChainetteError("ABORTED", `Engine \`${this.name}\` is closed`);
    }
    const served = { ...this.config, backend: "vllm_api" as const, endpoint: url };
    const problems = await checkServedModel(served, { env: this.#env });
    if (problems.length > 0) throw new ChainetteError("ENGINE_CONFIG", problems.join("\n"));
    return this.#options.connect(served);
  }
}
