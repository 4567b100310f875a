/**
 * Declaring engines: the shared registry, the engines YAML (Chainette README field names), module
 * vs YAML vs --endpoint precedence, redaction for graph.json, and createEngine's refusals.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createEngine } from "../../src/engines/create-engine.js";
import { clearRegisteredEngines, registerEngine, registeredEngines } from "../../src/engines/engine-registry.js";
import { loadEnginesYaml, parseEnginesYaml } from "../../src/engines/engines-yaml.js";
import { redactEngineConfig } from "../../src/engines/redact-engine-config.js";
import { resolveEngineConfigs } from "../../src/engines/resolve-engine-configs.js";
import { ChainetteError } from "../../src/errors.js";

afterEach(() => clearRegisteredEngines());

function thrown(action: () => unknown): ChainetteError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ChainetteError);
    return error as ChainetteError;
  }
  throw new Error("expected a ChainetteError");
}

const readmeYaml = `
engines:
  - name: llama3
    model: NousResearch/Meta-Llama-3-8B-Instruct
    dtype: bfloat16
    gpu_memory_utilization: 0.6
    enable_reasoning: false
    devices: [0]
    lazy: true
  - name: gpt4o
    backend: openai
    model: gpt-4.1-mini
    endpoint: https://api.openai.com/v1
    # \`OPENAI_API_KEY\` must be set in your environment
`;

describe("registry", () => {
  it("lives on globalThis under Symbol.for, shared by every copy of the library", () => {
    registerEngine({ name: "llama3", backend: "vllm_api", model: "m", endpoint: "http://localhost:8000/v1" });
    const shared = (globalThis as unknown as Record<symbol, Map<string, unknown>>)[Symbol.for("chainette-stream.engines")];
    expect(shared?.get("llama3")).toMatchObject({ model: "m" });
    registerEngine({ name: "llama3", model: "m2", endpoint: "http://localhost:8001/v1" });
    expect(registeredEngines()).toEqual([{ name: "llama3", model: "m2", endpoint: "http://localhost:8001/v1" }]);
  });

  it("names the engine, the field and the value received", () => {
    const error = thrown(() => registerEngine({ name: "qa", backend: "vllm_api", model: "m", concurrency: 0 }));
    expect(error.code).toBe("ENGINE_CONFIG");
    expect(error.message).toContain("Expected `concurrency` to be an integer >= 1, got `0`");
    expect(error.message).toContain("`qa`");
  });
});

describe("engines YAML", () => {
  it("reads the Chainette README example", () => {
    expect(parseEnginesYaml(readmeYaml)).toEqual([
      {
        name: "llama3",
        model: "NousResearch/Meta-Llama-3-8B-Instruct",
        dtype: "bfloat16",
        gpuMemoryUtilization: 0.6,
        enableReasoning: false,
        devices: [0],
        lazy: true,
      },
      { name: "gpt4o", backend: "openai", model: "gpt-4.1-mini", endpoint: "https://api.openai.com/v1" },
    ]);
  });

  it("reads our fields and a list of endpoints from a file", async () => {
    const directory = await mkdtemp(join(tmpdir(), "engines-"));
    try {
      const path = join(directory, "engines.yml");
      await writeFile(path, "engines:\n  - name: fast\n    model: m\n    endpoint: [http://a:8000/v1, http://b:8000/v1]\n    concurrency: 64\n    timeout_ms: 1000\n    max_retries: 2\n    max_response_bytes: 1048576\n    api_key_env: VLLM_KEY\n");
      expect(await loadEnginesYaml(path)).toEqual([
        { name: "fast", model: "m", endpoint: ["http://a:8000/v1", "http://b:8000/v1"], concurrency: 64, timeoutMs: 1000, maxRetries: 2, maxResponseBytes: 1048576, apiKeyEnv: "VLLM_KEY" },
      ]);
      await expect(loadEnginesYaml(join(directory, "missing.yml"))).rejects.toMatchObject({ code: "ENGINE_CONFIG" });
    } finally {
      await rm(directory, { recursive: true });
    }
  });

  it("reads the adaptive-concurrency fields and checks their values", () => {
    const good = "engines:\n  - name: bg\n    model: m\n    adaptive_concurrency: false\n    max_share: 0.25\n    priority: 10\n    prefix_affinity: false\n";
    expect(parseEnginesYaml(good, "engines.yml")).toEqual([{ name: "bg", model: "m", adaptiveConcurrency: false, maxShare: 0.25, priority: 10, prefixAffinity: false }]);
    const bad = "engines:\n  - name: bg\n    model: m\n    max_share: 0\n    priority: 1.5\n";
    const message = thrown(() => parseEnginesYaml(bad, "engines.yml")).message;
    expect(message).toContain("Expected `max_share` to be a number > 0 and <= 1");
    expect(message).toContain("Expected `priority` to be an integer");
  });

  it("reports every bad entry with its position, name and field, and never echoes a key", () => {
    const text = `
engines:
  - name: a
    model: m
    backend: vllm
    concurrency: 0
  - name: b
    endpoint: ftp://host
  - name: c
    model: m
    api_key: sk-live-do-not-print
  - name: a
    model: m
  - just a string
`;
    const error = thrown(() => parseEnginesYaml(text, "engines.yml"));
    expect(error.code).toBe("ENGINE_CONFIG");
    expect(error.message).not.toContain("sk-live-do-not-print");
    expect(error.message).toMatchInlineSnapshot(`
      "Invalid engines in engines.yml:
        engines[0] (\`a\`): Expected \`backend\` to be one of vllm_api, openai, ollama_api, vllm_local, openai_compatible, llamacpp, got \`"vllm"\`
        engines[0] (\`a\`): Expected \`concurrency\` to be an integer >= 1, got \`0\`
        engines[1] (\`b\`): Expected \`model\` to be a non-empty string, got nothing
        engines[1] (\`b\`): Expected \`endpoint\` to be an http(s) URL or a non-empty list of them, got \`ftp://host\`
        engines[2] (\`c\`): Unknown field \`api_key\`: secrets never go in an engine declaration; put the key in an environment variable and name it with \`api_key_env\`
        engines[3] (\`a\`): the name is already used by engines[0]
        engines[4] (unnamed): Expected an engine to be a mapping of fields, got \`"just a string"\`"
    `);
  });

  it("refuses a document without an engines list", () => {
    expect(thrown(() => parseEnginesYaml("- name: a\n")).message).toContain("`engines:`");
    expect(thrown(() => parseEnginesYaml("engines: [")).message).toContain("not valid YAML");
  });
});

describe("resolveEngineConfigs", () => {
  it("lets YAML replace a module entry, --endpoint override one engine, and defaults the backend", () => {
    registerEngine({ name: "llama3", backend: "vllm_api", model: "module-model", endpoint: "http://module:8000/v1" });
    registerEngine({ name: "judge", backend: "openai", model: "gpt-4.1-mini" });
    const configs = resolveEngineConfigs({
      yaml: parseEnginesYaml(readmeYaml),
      endpointOverrides: ["llama3=http://gpu-1:8000/v1", "llama3=http://gpu-2:8000/v1"],
    });
    expect(configs).toEqual([
      {
        name: "llama3",
        backend: "vllm_api", // no backend in the YAML, but an endpoint now
        model: "NousResearch/Meta-Llama-3-8B-Instruct",
        endpoint: ["http://gpu-1:8000/v1", "http://gpu-2:8000/v1"],
        dtype: "bfloat16",
        gpuMemoryUtilization: 0.6,
        enableReasoning: false,
        devices: [0],
        lazy: true,
      },
      { name: "judge", backend: "openai", model: "gpt-4.1-mini" },
      { name: "gpt4o", backend: "openai", model: "gpt-4.1-mini", endpoint: "https://api.openai.com/v1" },
    ]);
    expect(resolveEngineConfigs({ yaml: parseEnginesYaml(readmeYaml), registered: [] })[0]?.backend).toBe("vllm_local");
  });

  it("refuses --endpoint for an unknown engine or without NAME=URL, as USAGE", () => {
    const unknown = thrown(() => resolveEngineConfigs({ registered: [{ name: "a", model: "m" }], endpointOverrides: ["b=http://x/v1"] }));
    expect(unknown).toMatchObject({ code: "USAGE" });
    expect(unknown.message).toContain("`b`");
    expect(thrown(() => resolveEngineConfigs({ registered: [], endpointOverrides: ["http://x/v1"] })).code).toBe("USAGE");
  });
});

describe("secrets", () => {
  it("redacts credentials in endpoint URLs and keeps only the key variable's name", () => {
    const config = {
      name: "azure",
      backend: "openai_compatible" as const,
      model: "gpt",
      endpoint: ["https://user:hunter2@host.example/v1", "https://host.example/openai/v1?api-key=abc123"],
      apiKeyEnv: "AZURE_KEY",
    };
    const redacted = redactEngineConfig(config);
    const json = JSON.stringify(redacted);
    expect(json).not.toContain("hunter2");
    expect(json).not.toContain("abc123");
    expect(redacted).toMatchInlineSnapshot(`
      {
        "apiKeyEnv": "AZURE_KEY",
        "backend": "openai_compatible",
        "endpoint": [
          "https://REDACTED@host.example/v1",
          "https://host.example/openai/v1?api-key=REDACTED",
        ],
        "model": "gpt",
        "name": "azure",
      }
    `);
  });

  it("puts the key in no returned object and no error", () => {
    const env = { MY_KEY: "sk-secret-value-9" };
    const engine = createEngine({ name: "e", backend: "openai_compatible", model: "m", endpoint: "http://127.0.0.1:9/v1", apiKeyEnv: "MY_KEY" }, { env });
    expect(JSON.stringify([engine, engine.config, redactEngineConfig(engine.config), resolveEngineConfigs({ registered: [engine.config] })])).not.toContain("sk-secret-value-9");
    void engine.close();
    const missing = thrown(() => createEngine({ name: "g", backend: "openai", model: "m" }, { env: {} }));
    expect(missing.message).toContain("OPENAI_API_KEY");
  });
});

describe("createEngine", () => {
  it("refuses a vllm_local engine that enables reasoning without a parser", () => {
    const error = thrown(() => createEngine({ name: "local", backend: "vllm_local", model: "m", enableReasoning: true, lazy: true }));
    expect(error.code).toBe("ENGINE_CONFIG");
    expect(error.message).toContain("reasoning_parser");
  });

  it("warns through the logger about fields only vllm_local honours", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    const engine = createEngine({ name: "e", backend: "vllm_api", model: "m", enableReasoning: true, dtype: "bfloat16" }, { logger });
    await engine.close();
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual([
      "dtype, enableReasoning: honoured by vllm_local only; engine e (vllm_api) ignores them",
    ]);
  });

  it("checks its options", () => {
    const error = thrown(() => createEngine({ name: "e", backend: "vllm_api", model: "m" }, { engineDownTimeoutMs: -1 }));
    expect(error.message).toBe("Expected `engineDownTimeoutMs` to be an integer >= 1, got `-1`");
  });
});
