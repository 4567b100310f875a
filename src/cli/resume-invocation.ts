/**
 * The command that resumes a run, as words a shell can run from any folder: the program as this
 * process can be invoked again, and the run's arguments with every path made absolute (chain file,
 * input, output, engines file). Secrets in URLs are redacted later, when the run opens.
 */
import { existsSync, realpathSync } from "node:fs";
import { delimiter, join, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { splitChainArgument } from "./load-chain.js";
import type { CommandOptions } from "./usage-error.js";

const PATH_OPTIONS = new Set(["input", "output", "engines", "cache"]);

export function resumeInvocation(argv: readonly string[], options: CommandOptions, cwd = process.cwd()): string[] {
  const { tokens } = parseArgs({ args: [...argv], options, allowPositionals: true, tokens: true });
  const words: string[] = [...programWords(), "run"];
  let chainSeen = false;
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      if (chainSeen) words.push(token.value);
      else {
        const { file, exportName } = splitChainArgument(token.value);
        words.push(`${resolve(cwd, file)}${exportName === undefined ? "" : `:${exportName}`}`);
        chainSeen = true;
      }
      continue;
    }
    words.push(`--${token.name}`);
    if (token.value === undefined) continue;
    words.push(PATH_OPTIONS.has(token.name) && token.value !== "-" ? resolve(cwd, token.value) : token.value);
  }
  return words;
}

/**
 * `chainette-stream` when that name on PATH is this very program; `npx --prefix PROJECT
 * chainette-stream` when it is installed in a project's node_modules; else `node /abs/main.js`.
 */
export function programWords(script = process.argv[1] ?? "", path = process.env.PATH ?? ""): string[] {
  const real = realPath(script);
  for (const directory of path.split(delimiter)) {
    if (directory === "") continue;
    const candidate = join(directory, "chainette-stream");
    if (existsSync(candidate) && realPath(candidate) === real) return ["chainette-stream"];
  }
  const marker = `${sep}node_modules${sep}chainette-stream${sep}`;
  const at = real.lastIndexOf(marker);
  if (at > 0) {
    const project = real.slice(0, at);
    if (existsSync(join(project, "node_modules", ".bin", "chainette-stream"))) return ["npx", "--prefix", project, "chainette-stream"];
  }
  return ["node", real];
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}
