/**
 * The README demo: answer questions, keep the confident answers. Runs against the bundled
 * simulator (`npm run demo`) or any vLLM server (`--endpoint llama3=http://host:8000/v1`).
 */
import { z } from "zod";
import { apply, Chain, registerEngine, Step } from "chainette-stream";

registerEngine({
  name: "llama3",
  backend: "vllm_api",
  model: "meta-llama/Llama-3.1-8B-Instruct",
  endpoint: process.env.CHAINETTE_DEMO_ENDPOINT ?? "http://127.0.0.1:8000/v1",
});

const Question = z.object({ text: z.string().min(1) });
const Answer = z.object({
  answer: z.string().describe("A short answer"),
  confidence: z.number().min(0).max(1),
});

const qa = new Step({
  id: "qa",
  name: "Question answering",
  inputModel: Question,
  outputModel: Answer,
  engineName: "llama3",
  sampling: { temperature: 0.2, maxTokens: 256 },
  systemPrompt: "Answer accurately and concisely.",
  userPrompt: "Question: {{text}}",
});

const keepConfident = apply((answer: z.infer<typeof Answer>) => (answer.confidence >= 0.3 ? answer : null), { id: "keep", outputModel: Answer });

export const chain = new Chain({ name: "simple-qa", steps: [qa, keepConfident] });
