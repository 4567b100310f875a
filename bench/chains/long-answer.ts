/**
 * One LLM step whose answers are chat-sized (500-700 characters, about 150 tokens), so the
 * simulator's latencies are those of a real QA job; for bench/fault-mix.ts. Endpoint from BENCH_URL.
 */
import { z } from "zod";
import { Chain, registerEngine, Step } from "chainette-stream";

registerEngine({ name: "bench", backend: "vllm_api", model: "bench-model", endpoint: `${process.env.BENCH_URL ?? "http://127.0.0.1:8000"}/v1`, adaptiveConcurrency: process.env.BENCH_ADAPTIVE !== "0" });

export const chain = new Chain({
  name: "long-answer",
  steps: [
    new Step({
      id: "qa",
      inputModel: z.object({ text: z.string() }),
      outputModel: z.object({ answer: z.string().min(500).max(700), confidence: z.number().min(0).max(1) }),
      engineName: "bench",
      sampling: { temperature: 0, maxTokens: 256 },
      userPrompt: "Question: {{text}}",
    }),
  ],
});
