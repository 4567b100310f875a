/**
 * What each backend puts on the wire, recorded by a real loopback server: bodies as inline
 * snapshots (vllm_api, openai with the strict-schema rewrite, ollama_api), the Authorization
 * header, and how replies are read (content, reasoning, usage, finish reason).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { Chain, registerEngine, Step } from "../../src/index.js";
import { createEngine } from "../../src/engines/create-engine.js";
import type { Engine, GenerateRequest } from "../../src/engines/engine.js";
import { chatCompletion, startTestServer, type Answer, type TestServer } from "./test-server.js";

const answerSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    answer: { type: "string", minLength: 1, maxLength: 200 },
    confidence: { type: "number", minimum: 0, maximum: 1 },
    source: { type: "string", format: "uri" },
    day: { type: "string", format: "date" },
    level: { type: "string", enum: ["low", "high"] },
    kind: { oneOf: [{ const: "fact" }, { const: "opinion" }] },
    tags: { type: "array", items: { type: "string" }, uniqueItems: true, default: [] },
    author: { type: "object", properties: { name: { type: "string" }, email: { type: "string" } }, required: ["name"] },
  },
  required: ["answer", "confidence"],
};

const request: GenerateRequest = {
  messages: [
    { role: "system", content: "Answer accurately." },
    { role: "user", content: "Question: why is the sky blue?" },
  ],
  sampling: { temperature: 0.2, topP: 0.9, maxTokens: 256, stop: ["</answer>"], seed: 7, extra: { top_k: 20 } },
  schema: { name: "Answer", jsonSchema: answerSchema },
};

let server: TestServer;
let reply: Answer;
let engine: Engine | undefined;

beforeEach(async () => {
  reply = chatCompletion('{"answer":"Rayleigh scattering","confidence":0.9}');
  server = await startTestServer(() => reply);
});

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  await server.stop();
});

describe("vllm_api", () => {
  it("sends the chat-completions body with the schema as written and max_tokens", async () => {
    engine = createEngine({ name: "llama", backend: "vllm_api", model: "meta-llama/Llama-3.1-8B-Instruct", endpoint: `${server.url}/v1` });
    reply = chatCompletion('{"answer":"x","confidence":1}', { id: "chatcmpl-42" });
    (reply as { json: { choices: [{ message: Record<string, unknown> }] } }).json.choices[0].message.reasoning_content = "thinking...";
    const result = await engine.generate(request);
    expect(server.requests[0]?.path).toBe("/v1/chat/completions");
    expect(server.requests[0]?.headers.authorization).toBeUndefined();
    expect(server.requests[0]?.body).toMatchInlineSnapshot(`
      {
        "max_tokens": 256,
        "messages": [
          {
            "content": "Answer accurately.",
            "role": "system",
          },
          {
            "content": "Question: why is the sky blue?",
            "role": "user",
          },
        ],
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "response_format": {
          "json_schema": {
            "name": "Answer",
            "schema": {
              "$schema": "https://json-schema.org/draft/2020-12/schema",
              "properties": {
                "answer": {
                  "maxLength": 200,
                  "minLength": 1,
                  "type": "string",
                },
                "author": {
                  "properties": {
                    "email": {
                      "type": "string",
                    },
                    "name": {
                      "type": "string",
                    },
                  },
                  "required": [
                    "name",
                  ],
                  "type": "object",
                },
                "confidence": {
                  "maximum": 1,
                  "minimum": 0,
                  "type": "number",
                },
                "day": {
                  "format": "date",
                  "type": "string",
                },
                "kind": {
                  "oneOf": [
                    {
                      "const": "fact",
                    },
                    {
                      "const": "opinion",
                    },
                  ],
                },
                "level": {
                  "enum": [
                    "low",
                    "high",
                  ],
                  "type": "string",
                },
                "source": {
                  "format": "uri",
                  "type": "string",
                },
                "tags": {
                  "default": [],
                  "items": {
                    "type": "string",
                  },
                  "type": "array",
                  "uniqueItems": true,
                },
              },
              "required": [
                "answer",
                "confidence",
              ],
              "type": "object",
            },
            "strict": true,
          },
          "type": "json_schema",
        },
        "seed": 7,
        "stop": [
          "</answer>",
        ],
        "temperature": 0.2,
        "top_k": 20,
        "top_p": 0.9,
      }
    `);
    expect({ ...result, latencyMs: 0 }).toMatchInlineSnapshot(`
      {
        "attempts": 1,
        "finishReason": "stop",
        "latencyMs": 0,
        "reasoning": "thinking...",
        "requestId": "chatcmpl-42",
        "text": "{"answer":"x","confidence":1}",
        "usage": {
          "inputTokens": 11,
          "outputTokens": 7,
        },
      }
    `);
  });
});

describe("openai", () => {
  it("rewrites the schema to OpenAI's strict subset, sends max_completion_tokens and the key", async () => {
    engine = createEngine(
      { name: "gpt", backend: "openai", model: "gpt-4.1-mini", endpoint: `${server.url}/v1` },
      { env: { OPENAI_API_KEY: "sk-test-secret-123" } },
    );
    reply = chatCompletion('{"answer":"x","confidence":0.5,"source":null,"day":null,"level":"low","kind":null,"tags":[],"author":{"name":"Ann","email":null}}');
    const result = await engine.generate(request);
    expect(server.requests[0]?.headers.authorization).toBe("Bearer sk-test-secret-123");
    expect(server.requests[0]?.body).toMatchInlineSnapshot(`
      {
        "max_completion_tokens": 256,
        "messages": [
          {
            "content": "Answer accurately.",
            "role": "system",
          },
          {
            "content": "Question: why is the sky blue?",
            "role": "user",
          },
        ],
        "model": "gpt-4.1-mini",
        "response_format": {
          "json_schema": {
            "name": "Answer",
            "schema": {
              "additionalProperties": false,
              "properties": {
                "answer": {
                  "type": "string",
                },
                "author": {
                  "additionalProperties": false,
                  "properties": {
                    "email": {
                      "type": [
                        "string",
                        "null",
                      ],
                    },
                    "name": {
                      "type": "string",
                    },
                  },
                  "required": [
                    "name",
                    "email",
                  ],
                  "type": [
                    "object",
                    "null",
                  ],
                },
                "confidence": {
                  "maximum": 1,
                  "minimum": 0,
                  "type": "number",
                },
                "day": {
                  "format": "date",
                  "type": [
                    "string",
                    "null",
                  ],
                },
                "kind": {
                  "anyOf": [
                    {
                      "const": "fact",
                    },
                    {
                      "const": "opinion",
                    },
                    {
                      "type": "null",
                    },
                  ],
                },
                "level": {
                  "enum": [
                    "low",
                    "high",
                    null,
                  ],
                  "type": [
                    "string",
                    "null",
                  ],
                },
                "source": {
                  "type": [
                    "string",
                    "null",
                  ],
                },
                "tags": {
                  "items": {
                    "type": "string",
                  },
                  "type": [
                    "array",
                    "null",
                  ],
                },
              },
              "required": [
                "answer",
                "confidence",
                "source",
                "day",
                "level",
                "kind",
                "tags",
                "author",
              ],
              "type": "object",
            },
            "strict": true,
          },
          "type": "json_schema",
        },
        "seed": 7,
        "stop": [
          "</answer>",
        ],
        "temperature": 0.2,
        "top_k": 20,
        "top_p": 0.9,
      }
    `);
    // The nulls strict mode forced on optional fields are gone again; required fields are kept.
    expect(JSON.parse(result.text)).toEqual({ answer: "x", confidence: 0.5, level: "low", tags: [], author: { name: "Ann" } });
    expect(JSON.stringify(engine.config)).not.toContain("sk-test-secret-123");
  });

  it("leaves the caller's schema object untouched and sends a valid schema name", async () => {
    engine = createEngine({ name: "gpt", backend: "openai", model: "gpt-4.1-mini", endpoint: `${server.url}/v1` }, { env: { OPENAI_API_KEY: "k" } });
    const before = JSON.stringify(answerSchema);
    await engine.generate({ ...request, schema: { name: "qa step.v1 (answer)", jsonSchema: answerSchema } });
    expect(JSON.stringify(answerSchema)).toBe(before);
    // OpenAI wants json_schema.name to match ^[a-zA-Z0-9_-]{1,64}$.
    expect(server.requests[0]?.body).toMatchObject({ response_format: { json_schema: { name: "qa_step_v1__answer_" } } });
  });
});

describe("ollama_api", () => {
  it("posts /api/chat with format = schema, options and stream false; reads eval counts", async () => {
    reply = {
      json: {
        model: "llama3.1",
        created_at: "2026-01-01T00:00:00Z",
        message: { role: "assistant", content: '{"answer":"x","confidence":1}', thinking: "hmm" },
        done: true,
        done_reason: "stop",
        prompt_eval_count: 31,
        eval_count: 9,
      },
    };
    engine = createEngine({ name: "local", backend: "ollama_api", model: "llama3.1", endpoint: server.url });
    const result = await engine.generate(request);
    expect(server.requests[0]?.path).toBe("/api/chat");
    expect(server.requests[0]?.body).toMatchInlineSnapshot(`
      {
        "format": {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "properties": {
            "answer": {
              "maxLength": 200,
              "minLength": 1,
              "type": "string",
            },
            "author": {
              "properties": {
                "email": {
                  "type": "string",
                },
                "name": {
                  "type": "string",
                },
              },
              "required": [
                "name",
              ],
              "type": "object",
            },
            "confidence": {
              "maximum": 1,
              "minimum": 0,
              "type": "number",
            },
            "day": {
              "format": "date",
              "type": "string",
            },
            "kind": {
              "oneOf": [
                {
                  "const": "fact",
                },
                {
                  "const": "opinion",
                },
              ],
            },
            "level": {
              "enum": [
                "low",
                "high",
              ],
              "type": "string",
            },
            "source": {
              "format": "uri",
              "type": "string",
            },
            "tags": {
              "default": [],
              "items": {
                "type": "string",
              },
              "type": "array",
              "uniqueItems": true,
            },
          },
          "required": [
            "answer",
            "confidence",
          ],
          "type": "object",
        },
        "messages": [
          {
            "content": "Answer accurately.",
            "role": "system",
          },
          {
            "content": "Question: why is the sky blue?",
            "role": "user",
          },
        ],
        "model": "llama3.1",
        "options": {
          "num_predict": 256,
          "seed": 7,
          "stop": [
            "</answer>",
          ],
          "temperature": 0.2,
          "top_k": 20,
          "top_p": 0.9,
        },
        "stream": false,
      }
    `);
    expect({ ...result, latencyMs: 0 }).toMatchInlineSnapshot(`
      {
        "attempts": 1,
        "finishReason": "stop",
        "latencyMs": 0,
        "reasoning": "hmm",
        "text": "{"answer":"x","confidence":1}",
        "usage": {
          "inputTokens": 31,
          "outputTokens": 9,
        },
      }
    `);
  });
});

describe("schema repair (re-ask)", () => {
  it("sends the conversation so far: the model's invalid reply, then what was wrong with it", async () => {
    const repair = await startTestServer((_request, index) => (index === 0 ? chatCompletion('{"answer":"x","confidence":7}') : chatCompletion('{"answer":"x","confidence":0.7}')));
    try {
      registerEngine({ name: "repair", backend: "vllm_api", model: "m", endpoint: `${repair.url}/v1` });
      const Answer = z.object({ answer: z.string(), confidence: z.number().max(1) });
      const qa = new Step({ id: "qa", outputModel: Answer, engineName: "repair", systemPrompt: "Answer briefly.", userPrompt: "Question: {{text}}", maxRepairs: 1, sampling: { temperature: 0 } });
      const results = [];
      for await (const result of new Chain({ name: "repair", steps: [qa] }).run([{ text: "why?" }])) results.push(result);
      expect(results).toMatchObject([{ status: "ok", output: { confidence: 0.7 } }]);
      expect(repair.requests).toHaveLength(2);
      expect((repair.requests[1]?.body as { messages: unknown }).messages).toMatchInlineSnapshot(`
        [
          {
            "content": "Answer briefly.",
            "role": "system",
          },
          {
            "content": "Question: why?",
            "role": "user",
          },
          {
            "content": "{"answer":"x","confidence":7}",
            "role": "assistant",
          },
          {
            "content": "Your reply did not match the required JSON schema: ✖ Too big: expected number to be <=1;   → at confidence
        Reply again with only the corrected JSON object.",
            "role": "user",
          },
        ]
      `);
    } finally {
      await repair.stop();
    }
  });
});
