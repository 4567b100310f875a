/**
 * `chainette-stream init [DIR]`: writes a small project that runs as is against the bundled
 * simulator: package.json (chainette-stream and zod, npm scripts), a typed chain.ts, a dozen input
 * rows, an engines file pointing at the simulator, and a README of its commands. It never
 * overwrites: when any of its files exists it names them all and writes nothing.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ChainetteError } from "../errors.js";
import { EXIT } from "./exit-codes.js";

export const INIT_OPTIONS = { help: { type: "boolean", short: "h" } } as const;

export const INIT_HELP = `Usage: chainette-stream init [DIR]

Writes a runnable project into DIR (default: the current folder, created if missing):
  package.json   chainette-stream and zod, with npm scripts: sim, check, start, inspect
  chain.ts       a typed chain: one LLM step (guided JSON) and one TypeScript apply
  input.jsonl    12 sample rows
  engines.yml    the engine the chain uses, pointing at the simulator on port 8000
  README.md      these commands
  .gitignore     node_modules/ and out/
Existing files are never overwritten: init names them and writes nothing.

Then: cd DIR && npm install && npm run sim   (and in a second terminal) npm start
`;

/** The model name the simulator serves and the engines file asks for. */
const MODEL = "meta-llama/Llama-3.1-8B-Instruct";

export function initCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: INIT_OPTIONS });
  if (values.help) {
    process.stdout.write(INIT_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 1) throw new ChainetteError("USAGE", `init takes one folder, got ${positionals.length}: ${positionals.join(" ")}\n\n${INIT_HELP}`);
  const directory = resolve(positionals[0] ?? ".");
  const files = projectFiles(packageName(basename(directory)));
  const existing = Object.keys(files).filter((name) => existsSync(join(directory, name)));
  if (existing.length > 0) {
    throw new ChainetteError("USAGE", `init would overwrite ${existing.join(", ")} in ${directory}; nothing was written (move them away, or pick another folder)`);
  }
  mkdirSync(directory, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(directory, name), text, { flag: "wx" });
  const shown = relative(process.cwd(), directory) || ".";
  process.stdout.write(
    `Wrote ${Object.keys(files).join(", ")} in ${shown}\n\nNext:\n` +
      (shown === "." ? "" : `  cd ${shown}\n`) +
      `  npm install\n  npm run sim      # the bundled vLLM-compatible simulator on port 8000 (leave it running)\n` +
      `  npm start        # in a second terminal: runs chain.ts over input.jsonl into out/\n  npm run inspect  # what the run did\n`,
  );
  return EXIT.ok;
}

/** npm package names are lower-case and URL-safe. */
function packageName(folder: string): string {
  const name = folder.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+|-+$/g, "");
  return name === "" ? "my-chain" : name;
}

/** The range of this package (so the project gets the version that wrote it) and of zod. */
function dependencyRanges(): { chainette: string; zod: string } {
  const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string; dependencies: Record<string, string> };
  return { chainette: `^${manifest.version}`, zod: manifest.dependencies.zod ?? "^4.1.0" };
}

function projectFiles(name: string): Record<string, string> {
  const ranges = dependencyRanges();
  const manifest = {
    name,
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: {
      sim: `chainette-stream sim --port 8000 --model ${MODEL}`,
      check: "chainette-stream inspect-dag chain.ts --engines engines.yml",
      start: "chainette-stream run chain.ts -i input.jsonl -o out --engines engines.yml",
      inspect: "chainette-stream inspect out",
    },
    dependencies: { "chainette-stream": ranges.chainette, zod: ranges.zod },
  };
  return {
    "package.json": `${JSON.stringify(manifest, null, 2)}\n`,
    "chain.ts": CHAIN,
    "input.jsonl": INPUT.map((row) => JSON.stringify(row)).join("\n") + "\n",
    "engines.yml": ENGINES,
    "README.md": readme(name),
    ".gitignore": "node_modules/\nout/\n",
  };
}

const CHAIN = `/**
 * Support-ticket triage: an LLM step reads each ticket and answers in the Triage schema (guided
 * JSON, validated, re-asked when it does not match), then plain TypeScript routes it to a queue.
 * The engine \`llm\` is declared in engines.yml.
 */
import { z } from "zod";
import { apply, Chain, Step } from "chainette-stream";

/** One input row (input.jsonl). */
const Ticket = z.object({ id: z.string(), message: z.string().min(1) });

/** What the model must answer. */
const Triage = z.object({
  category: z.enum(["billing", "bug", "feature_request", "account", "other"]),
  urgency: z.number().int().min(1).max(5).describe("1 = whenever, 5 = customers are blocked now"),
  summary: z.string().max(200).describe("One sentence"),
});
type Triage = z.infer<typeof Triage>;

const triage = new Step({
  id: "triage",
  inputModel: Ticket,
  outputModel: Triage,
  engineName: "llm",
  sampling: { temperature: 0, maxTokens: 200 },
  systemPrompt: "You triage customer support tickets. Answer in the requested JSON format.",
  userPrompt: "Ticket {{id}}:\\n{{message}}",
});

/** Pure TypeScript, typed from the step's schema: no request, runs on every answered row. */
export function route(ticket: Triage): { queue: string; page_on_call: boolean } {
  const queue = ticket.category === "bug" ? "engineering" : ticket.category === "billing" ? "finance" : "support";
  return { queue, page_on_call: ticket.urgency >= 4 };
}

export const chain = new Chain({
  name: "ticket-triage",
  steps: [triage, apply((ticket: Triage) => route(ticket), { id: "route" })],
});
`;

const INPUT: { id: string; message: string }[] = [
  { id: "T-1001", message: "I was charged twice for my March invoice. Please refund one of the payments." },
  { id: "T-1002", message: "The export button does nothing in Firefox; Chrome works." },
  { id: "T-1003", message: "Could you add a dark mode to the dashboard?" },
  { id: "T-1004", message: "I cannot log in since I changed my email address." },
  { id: "T-1005", message: "Our whole team gets a 500 error when opening any report. We are blocked." },
  { id: "T-1006", message: "How do I download last year's receipts for my accountant?" },
  { id: "T-1007", message: "Please delete my account and all of my data." },
  { id: "T-1008", message: "The mobile app crashes when I rotate the screen on the settings page." },
  { id: "T-1009", message: "It would help if reports could be scheduled to arrive by email every Monday." },
  { id: "T-1010", message: "Your new pricing page shows euros but we are billed in dollars. Which is right?" },
  { id: "T-1011", message: "Two-factor codes arrive ten minutes late, so they have expired by then." },
  { id: "T-1012", message: "Thanks for the quick fix yesterday, everything works now!" },
];

const ENGINES = `# The engines the chain's steps name (engineName). \`npm run sim\` serves this model on port 8000,
# no GPU needed. For a real vLLM (or any OpenAI-compatible) server change the endpoint, or keep this
# file and run \`npm start -- --endpoint llm=http://HOST:8000/v1\`. Fields: docs/engines.md.
engines:
  - name: llm
    backend: vllm_api
    model: ${MODEL}
    endpoint: http://127.0.0.1:8000/v1
`;

function readme(name: string): string {
  return `# ${name}

A [chainette-stream](https://www.npmjs.com/package/chainette-stream) project: \`chain.ts\` triages the
support tickets of \`input.jsonl\` with an LLM step (typed by a zod schema) and a TypeScript function.

\`\`\`bash
npm install
npm run sim       # the bundled vLLM-compatible simulator on port 8000; leave it running
npm run check     # in a second terminal: the chain's DAG, templates and engines checked, no request
npm start         # runs chain.ts over input.jsonl into out/
npm run inspect   # counts, errors by type, tokens, latency
\`\`\`

Stop \`npm start\` (Ctrl-C, or a crash) and run it again: it resumes where it stopped, and every row
ends up exactly once in \`out/flattened/\` (answered and routed) or \`out/errors/\` (failed).
To start over: \`npm start -- --fresh\`. Other options: \`npx chainette-stream run --help\`.

| file | what it is |
|---|---|
| \`chain.ts\` | the chain: schemas, the LLM step, the \`route\` apply |
| \`input.jsonl\` | one ticket per line: \`{"id": ..., "message": ...}\` |
| \`engines.yml\` | where the engine \`llm\` is: the simulator; change \`endpoint\` for a real server |
| \`out/\` | after a run: \`triage/\`, \`route/\`, \`flattened/\`, \`errors/\`, \`summary.json\`, \`ledger.sqlite\` |

Against a real server: \`npm start -- --endpoint llm=http://HOST:8000/v1\` (or edit engines.yml).
`;
}
