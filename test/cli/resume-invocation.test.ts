/** The resume command's words: absolute paths, and the program as this process can be invoked again. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RUN_OPTIONS } from "../../src/cli/run-command.js";
import { programWords, resumeInvocation } from "../../src/cli/resume-invocation.js";
import { shellJoin } from "../../src/job/shell-words.js";

const work = mkdtempSync(join(tmpdir(), "resume-words-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the resume command", () => {
  it("makes the chain file, input, output and engines file absolute, whatever the option's form", () => {
    const words = resumeInvocation(["chain.ts:pipeline", "-i", "in.jsonl", "--output=out dir", "--engines", "e.yml", "--endpoint", "sim=http://h/v1", "--concurrency", "4", "--fresh"], RUN_OPTIONS, "/home/me/project");
    expect(words.slice(words.indexOf("run"))).toEqual(["run", "/home/me/project/chain.ts:pipeline", "--input", "/home/me/project/in.jsonl", "--output", "/home/me/project/out dir", "--engines", "/home/me/project/e.yml", "--endpoint", "sim=http://h/v1", "--concurrency", "4", "--fresh"]);
    expect(resumeInvocation(["c.ts", "-i", "-", "-o", "o"], RUN_OPTIONS, "/w")).toContain("-");
  });

  it("names the program as it can be invoked: on PATH, in a project's node_modules, else node and its path", () => {
    const project = join(work, "project");
    const script = join(project, "node_modules", "chainette-stream", "dist", "cli", "main.js");
    mkdirSync(join(script, ".."), { recursive: true });
    writeFileSync(script, "");
    mkdirSync(join(project, "node_modules", ".bin"));
    symlinkSync(script, join(project, "node_modules", ".bin", "chainette-stream"));
    expect(programWords(script, "/nowhere")).toEqual(["npx", "--prefix", project, "chainette-stream"]);
    expect(programWords(script, `/nowhere:${join(project, "node_modules", ".bin")}`)).toEqual(["chainette-stream"]);
    const loose = join(work, "main.js");
    writeFileSync(loose, "");
    // Another program of that name on PATH is not this one.
    expect(programWords(loose, join(project, "node_modules", ".bin"))).toEqual(["node", loose]);
  });

  it("quotes words for a POSIX shell", () => {
    expect(shellJoin(["node", "/a b/main.js", "--endpoint", "x=http://h/v1?k=REDACTED", "it's"])).toBe(`node '/a b/main.js' --endpoint 'x=http://h/v1?k=REDACTED' 'it'\\''s'`);
  });
});
