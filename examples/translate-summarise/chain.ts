/**
 * Translate and summarise (the Chainette README's branch-join example, grown a clean-up step):
 * strip a scraped article of its boilerplate, translate it into French and Spanish in two
 * parallel branches joined as `fr` and `es`, then summarise from both translations.
 * Runs against the bundled simulator or any vLLM server (`--endpoint llama3=http://host:8000/v1`).
 */
import { z } from "zod";
import { Branch, Chain, registerEngine, Step } from "chainette-stream";

registerEngine({
  name: "llama3",
  backend: "vllm_api",
  model: "meta-llama/Llama-3.1-8B-Instruct",
  endpoint: process.env.CHAINETTE_DEMO_ENDPOINT ?? "http://127.0.0.1:8000/v1",
});

const ScrapedPage = z.object({ source: z.string(), raw: z.string().min(1) });
const Article = z.object({
  title: z.string().min(1).describe("The headline, in sentence case"),
  text: z.string().min(1).describe("The article body without navigation, ads or sharing links"),
});
const Translation = z.object({ translated: z.string().min(1) });
const Summary = z.object({
  summary_fr: z.string().min(1).describe("One-sentence summary in French"),
  summary_es: z.string().min(1).describe("One-sentence summary in Spanish"),
  translations_agree: z.boolean().describe("Whether both translations say the same thing"),
});

const clean = new Step({
  id: "clean",
  name: "Extract the article",
  inputModel: ScrapedPage,
  outputModel: Article,
  engineName: "llama3",
  sampling: { temperature: 0, maxTokens: 512 },
  systemPrompt: "You extract the article from a scraped web page. Drop cookie banners, navigation, ads, dates and sharing links. Do not rewrite the text.",
  userPrompt: "Page {{source}}:\n\n{{raw}}",
});

/** Both branches see the cleaned article; each ends in one translation. */
function translateStep(id: string, language: string): Step {
  return new Step({
    id,
    name: `Translate into ${language}`,
    inputModel: Article,
    outputModel: Translation,
    engineName: "llama3",
    sampling: { temperature: 0.3, topP: 0.9, maxTokens: 768, seed: 7 },
    systemPrompt: `You are a professional translator. Translate into ${language}; keep numbers and names as they are.`,
    userPrompt: "{{clean.title}}\n\n{{clean.text}}",
  });
}

const french = new Branch({ name: "fr", steps: [translateStep("translate_fr", "French")] }).join("fr");
const spanish = new Branch({ name: "es", steps: [translateStep("translate_es", "Spanish")] }).join("es");

const aggregate = new Step({
  id: "aggregate",
  name: "Summarise both translations",
  outputModel: Summary,
  engineName: "llama3",
  sampling: { temperature: 0, maxTokens: 256 },
  systemPrompt: "Summarise both translations, each in its own language, and say whether they agree.",
  userPrompt: "FR: {{fr.translated}}\nES: {{es.translated}}",
});

export const chain = new Chain({ name: "translate-summarise", steps: [clean, [french, spanish], aggregate] });
