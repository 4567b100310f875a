/** One LLM step for the throughput benchmark; the endpoint comes from BENCH_URL. */
import { z } from "zod";
import { Chain, registerEngine, Step } from "chainette-stream";

registerEngine({ name: "bench", backend: "vllm_api", model: "bench-model", endpoint: `${process.env.BENCH_URL ?? "http://127.0.0.1:8000"}/v1`, adaptiveConcurrency: process.env.BENCH_ADAPTIVE !== "0" });

export const Answer = z.object({ answer: z.string(), confidence: z.number().min(0).max(1) });

export const chain = new Chain({
  name: "one-step",
  steps: [new Step({ id: "qa", inputModel: z.object({ text: z.string() }), outputModel: Answer, engineName: "bench", sampling: { temperature: 0, maxTokens: 64 }, userPrompt: "Question: {{text}}" })],
});
