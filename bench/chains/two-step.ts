/** Two LLM steps for the response-cache benchmark; STEP2_PROMPT changes the second (a rerun). */
import { z } from "zod";
import { Chain, registerEngine, Step } from "chainette-stream";

registerEngine({ name: "bench", backend: "vllm_api", model: "bench-model", endpoint: `${process.env.BENCH_URL ?? "http://127.0.0.1:8000"}/v1` });

const Answer = z.object({ answer: z.string(), confidence: z.number().min(0).max(1) });
const Short = z.object({ short: z.string() });

export const chain = new Chain({
  name: "two-step",
  steps: [
    new Step({ id: "qa", inputModel: z.object({ text: z.string() }), outputModel: Answer, engineName: "bench", sampling: { temperature: 0, maxTokens: 64 }, userPrompt: "Question: {{text}}" }),
    new Step({ id: "shorten", inputModel: Answer, outputModel: Short, engineName: "bench", sampling: { temperature: 0, maxTokens: 32 }, userPrompt: process.env.STEP2_PROMPT ?? "Shorten: {{qa.answer}}" }),
  ],
});
