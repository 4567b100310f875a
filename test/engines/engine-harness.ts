/**
 * What an engine test file starts against real loopback servers: simulators, scripted test servers
 * and engines (`vllm_api` on model `m` by default, fast retries), each closed after every test.
 */
import { afterEach } from "vitest";
import { createEngine } from "../../src/engines/create-engine.js";
import type { Engine, EngineConfig, EngineEvent } from "../../src/engines/engine.js";
import { startSimulator, type Simulator, type SimulatorOptions } from "../../src/sim/index.js";
import { startTestServer, type Handler, type TestServer, type TestServerOptions } from "./test-server.js";

export interface EngineHarness {
  sim: (options: SimulatorOptions) => Promise<Simulator>;
  server: (handler: Handler, options?: TestServerOptions) => Promise<TestServer>;
  /** An engine named `llm`; `events` collects what it emits. */
  engine: (config: Partial<EngineConfig> & { endpoint: string | string[] }, events?: EngineEvent[]) => Engine;
}

export function engineHarness(): EngineHarness {
  const sims: Simulator[] = [];
  const servers: TestServer[] = [];
  const engines: Engine[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((engine) => engine.close()));
    await Promise.all(sims.splice(0).map((sim) => sim.close()));
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });
  return {
    sim: async (options) => {
      const started = await startSimulator({ model: "m", ...options });
      sims.push(started);
      return started;
    },
    server: async (handler, options) => {
      const started = await startTestServer(handler, options);
      servers.push(started);
      return started;
    },
    engine: (config, events) => {
      const created = createEngine({ name: "llm", backend: "vllm_api", model: "m", ...config }, { ...(events === undefined ? {} : { onEvent: (event: EngineEvent) => events.push(event) }), retry: { baseDelayMs: 5, maxDelayMs: 20 } });
      engines.push(created);
      return created;
    },
  };
}
