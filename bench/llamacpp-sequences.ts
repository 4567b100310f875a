/**
 * The `llamacpp` engine on the tests' tiny GGUF (test/helpers/tiny-gguf.ts), threads 1: schema
 * replies per second with `concurrency` 4 parallel sequences against 1 (the baseline, same run),
 * and how many of the grammar-constrained replies match the schema. The model is tiny, so this
 * measures the engine's own cost (IPC, batching, grammar) more than llama.cpp's arithmetic.
 * `npm run build` first; `node --import tsx bench/llamacpp-sequences.ts [REQUESTS]`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { createEngine } from "../dist/engines/create-engine.js";
import { writeTinyGguf } from "../test/helpers/tiny-gguf.js";
import { table } from "./measure.js";

const requests = Number(process.argv[2] ?? 300);
const Verdict = z.object({ label: z.enum(["fact", "opinion", "question"]), score: z.number(), certain: z.boolean(), note: z.string() });
const jsonSchema = z.toJSONSchema(Verdict);
const work = mkdtempSync(join(tmpdir(), "bench-llamacpp-"));
const model = join(work, "tiny.gguf");
writeTinyGguf(model);

async function measureSequences(sequences: number): Promise<{ perSecond: number; valid: number }> {
  const engine = createEngine({ name: `seq${sequences}`, backend: "llamacpp", model, threads: 1, concurrency: sequences });
  try {
    await engine.generate({ messages: [{ role: "user", content: "warm up" }], sampling: { maxTokens: 8 } });
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: requests }, (_, i) =>
        engine.generate({
          messages: [{ role: "system", content: "Classify the text." }, { role: "user", content: `Question number ${i}: why is ${i} interesting?` }],
          sampling: { temperature: 0.8, seed: i, maxTokens: 64 },
          schema: { name: "verdict", jsonSchema },
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const valid = results.filter((result) => {
      try {
        return Verdict.safeParse(JSON.parse(result.text)).success;
      } catch {
        return false;
      }
    }).length;
    return { perSecond: requests / seconds, valid };
  } finally {
    await engine.close();
  }
}

const baseline = await measureSequences(1);
const parallel = await measureSequences(4);
console.log(table(["concurrency (sequences)", "replies/s", "schema-valid", "ratio"], [
  [1, baseline.perSecond.toFixed(1), `${baseline.valid}/${requests}`, "1.00x"],
  [4, parallel.perSecond.toFixed(1), `${parallel.valid}/${requests}`, `${(parallel.perSecond / baseline.perSecond).toFixed(2)}x`],
]));
rmSync(work, { recursive: true, force: true });
