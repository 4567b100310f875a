/**
 * The same job written the way a TypeScript user would without chainette-stream: the openai
 * client, p-limit, the whole input read into memory, one `Promise.all`, one write per row, zod to
 * validate. No resume, no retries beyond the client's own, no error records.
 *   node --import tsx bench/baselines/openai-plimit.ts URL INPUT OUTPUT CONCURRENCY
 */
import { createWriteStream, readFileSync } from "node:fs";
import OpenAI from "openai";
import pLimit from "p-limit";
import { z } from "zod";

const [url, input, output, concurrency] = process.argv.slice(2) as [string, string, string, string];
const Answer = z.object({ answer: z.string(), confidence: z.number().min(0).max(1) });
const schema = z.toJSONSchema(Answer);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused" });
const limit = pLimit(Number(concurrency));
const out = createWriteStream(output);
const rows = readFileSync(input, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as { text: string });

await Promise.all(
  rows.map((row, index) =>
    limit(async () => {
      const completion = await client.chat.completions.create({
        model: "bench-model",
        messages: [{ role: "user", content: `Question: ${row.text}` }],
        temperature: 0,
        max_tokens: 64,
        response_format: { type: "json_schema", json_schema: { name: "qa", schema, strict: true } },
      });
      const answer = Answer.parse(JSON.parse(completion.choices[0]?.message.content ?? ""));
      out.write(`${JSON.stringify({ row_id: index, ...answer })}\n`);
    }),
  ),
);
out.end();
