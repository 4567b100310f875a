/**
 * Multi-document summary with an LLM judge (Chainette's `multi_doc_summary_eval.py`): each row holds
 * several documents on one topic; a step summarises them (its prompt is a function of the row, to
 * number the documents), a judge on another engine and model scores the summary against the
 * documents, and a pure function keeps only well-scored summaries. Runs against two bundled
 * simulators or real vLLM servers (`--endpoint llama3=URL --endpoint judge=URL`).
 */
import { z } from "zod";
import { apply, Chain, registerEngine, Step, type RowContext } from "chainette-stream";

registerEngine({
  name: "llama3",
  backend: "vllm_api",
  model: "meta-llama/Llama-3.1-8B-Instruct",
  endpoint: process.env.CHAINETTE_DEMO_ENDPOINT ?? "http://127.0.0.1:8000/v1",
});

/** The judge is a bigger model on its own server. */
registerEngine({
  name: "judge",
  backend: "vllm_api",
  model: process.env.CHAINETTE_JUDGE_MODEL ?? "meta-llama/Llama-3.1-70B-Instruct",
  endpoint: process.env.CHAINETTE_JUDGE_ENDPOINT ?? "http://127.0.0.1:8001/v1",
});

/** Summaries the judge scores below this are dropped (counted as filtered in summary.json). */
export const MIN_SCORE = 3;

const SourceDocument = z.object({ source: z.string(), text: z.string().min(1) });
const DocumentSet = z.object({ topic: z.string().min(1), documents: z.array(SourceDocument).min(1) });
const Summary = z.object({
  text: z.string().min(1).max(1200).describe("A neutral summary of all documents, 2-4 sentences"),
  key_points: z.array(z.string().min(1)).min(1).max(5),
});
const Verdict = z.object({
  score: z.number().int().min(1).max(5).describe("5: faithful and complete; 1: wrong or misleading"),
  covers_all_documents: z.boolean(),
  unsupported_claims: z.array(z.string()).max(5).describe("Claims in the summary that no document supports"),
  rationale: z.string().max(400),
});
const KeptSummary = z.object({ topic: z.string(), summary: z.string(), score: z.number().int() });

type Verdict = z.infer<typeof Verdict>;

/** A prompt as a function of the row: number the documents and name their sources, which a template cannot do. */
export function summaryPrompt(context: RowContext): string {
  const { topic, documents } = DocumentSet.parse(context.chain_input);
  const numbered = documents.map((document, index) => `Document ${index + 1} (${document.source}):\n${document.text}`);
  return [`Topic: ${topic}`, ...numbered, `Summarise these ${documents.length} documents.`].join("\n\n");
}

const summarise = new Step({
  id: "summarise",
  name: "Summarise the documents",
  inputModel: DocumentSet,
  outputModel: Summary,
  engineName: "llama3",
  sampling: { temperature: 0.3, maxTokens: 400 },
  systemPrompt: "You write short, neutral summaries that combine several sources. Mention disagreements between sources.",
  userPrompt: summaryPrompt,
});

const judge = new Step({
  id: "judge",
  name: "Judge the summary",
  inputModel: Summary,
  outputModel: Verdict,
  engineName: "judge",
  sampling: { temperature: 0, maxTokens: 300, seed: 0 },
  systemPrompt: "You grade summaries. Compare the summary with the source documents and score it from 1 to 5.",
  userPrompt: "Documents (JSON):\n{{chain_input.documents}}\n\nSummary:\n{{summarise.text}}\n\nKey points:\n{{summarise.key_points}}",
});

const keepGood = apply(
  (verdict: Verdict, context) => {
    if (verdict.score < MIN_SCORE) return null;
    const summary = Summary.parse(context.summarise);
    return { topic: DocumentSet.parse(context.chain_input).topic, summary: summary.text, score: verdict.score };
  },
  { id: "keep_good", outputModel: KeptSummary },
);

export const chain = new Chain({ name: "multi-doc-summary", steps: [summarise, judge, keepGood] });
