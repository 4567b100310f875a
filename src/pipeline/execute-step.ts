import { z } from "zod";
import { nestingProblem } from "../core/nesting-depth.js";
import { nonFinitePath } from "../core/non-finite.js";
import type { StepPlan } from "../core/plan.js";
import { TemplateValueError } from "../core/template.js";
import type { ChatMessage, Engine, GenerateResult } from "../engines/engine.js";
import { ChainetteError, isChainetteError } from "../errors.js";
import { checkInput } from "./check-input.js";
import type { NodeRuntime } from "./node-runtime.js";
import { ReplyKeys, type CachedReply } from "./reply-cache.js";
import { failRow, type NodeRecord, type Row, type RowFailure } from "./row.js";
import { safeParse } from "./safe-parse.js";

/**
 * Runs an LLM step on one row: validate the input, render the prompts, ask the engine for JSON
 * matching the output schema, parse and validate the reply, and re-ask (schema repair, bounded by
 * `maxRepairs`) when it does not match. Transport retries happen inside the engine; only an
 * infrastructure failure (ENGINE_DOWN, abort) rejects, everything else is a failed row.
 *
 * With a response cache, a reply accepted earlier for the same first request is checked again and
 * used without a request; an accepted reply is stored under its first request's key (the reply the
 * step ended with, repairs included), so a rerun never pays for the repairs again. Rejected replies
 * are never stored: a re-ask cannot loop on a cached bad answer.
 */
export async function executeStep(plan: StepPlan, row: Row, runtime: NodeRuntime): Promise<Row[]> {
  if (row.state !== "active") return [row];
  const engine = runtime.engines.get(plan.engineName);
  if (engine === undefined) throw new ChainetteError("ENGINE_CONFIG", `engine \`${plan.engineName}\` of step \`${plan.id}\` was not created`);

  const inputProblem = checkInput(plan.step.inputModel, row.previous, plan.id, "step");
  if (inputProblem !== undefined) return [end(plan, failRow(row, inputProblem), runtime)];

  let messages: ChatMessage[];
  try {
    messages = [];
    if (plan.systemPrompt) messages.push({ role: "system", content: plan.systemPrompt.render(row.context) });
    messages.push({ role: "user", content: plan.userPrompt.render(row.context) });
  } catch (error) {
    const message = error instanceof TemplateValueError ? error.message : `prompt failed: ${(error as Error).message}`;
    return [end(plan, failRow(row, { node: plan.id, type: "TEMPLATE", message, attempts: 0 }), runtime)];
  }

  const cache = runtime.cache;
  const key = cache === undefined ? undefined : keysFor(plan, engine).key(messages, row.id);
  const hit = key === undefined ? undefined : cache?.lookup(key);
  if (hit !== undefined) {
    const checked = checkReply(plan, hit);
    // A cached reply the step no longer accepts (its outputModel's code changed) is asked again.
    if (checked.ok) return [accept(plan, row, runtime, checked.value, hit.reasoning, hit.finishReason, 0, { inputTokens: 0, outputTokens: 0 }, hit)];
  }

  runtime.emit({ type: "node-start", node: plan.id });
  const started = performance.now();
  const outcome = await generateValid(plan, engine, messages, row, runtime);
  const latencyMs = performance.now() - started;
  const { inputTokens, outputTokens } = outcome.usage;
  if (!outcome.ok) {
    failRow(row, { ...outcome.failure, usage: { inputTokens, outputTokens, latencyMs } });
    runtime.emit({ type: "node-end", node: plan.id, status: "failed", started: true, latencyMs, inputTokens, outputTokens, ...(outcome.finishReason === undefined ? {} : { finishReason: outcome.finishReason }) });
    return [row];
  }
  if (cache !== undefined && key !== undefined) {
    cache.store(key, { text: outcome.text, reasoning: outcome.reasoning, finishReason: outcome.finishReason, inputTokens, outputTokens, requests: outcome.requests });
  }
  return [accept(plan, row, runtime, outcome.value, outcome.reasoning, outcome.finishReason, latencyMs, outcome.usage, undefined)];
}

function accept(plan: StepPlan, row: Row, runtime: NodeRuntime, value: unknown, reasoning: string | undefined, finishReason: string, latencyMs: number, usage: { inputTokens: number; outputTokens: number }, cached: CachedReply | undefined): Row {
  const { inputTokens, outputTokens } = usage;
  row.setOutput(plan.id, value);
  row.previous = value;
  const record: NodeRecord = { node: plan.id, rowId: row.id, output: value, latencyMs, inputTokens, outputTokens };
  if (reasoning !== undefined) record.reasoning = reasoning;
  if (cached !== undefined) record.cached = { requests: cached.requests, inputTokens: cached.inputTokens, outputTokens: cached.outputTokens };
  row.records.push(record);
  runtime.emit({ type: "node-end", node: plan.id, status: "ok", started: cached === undefined, latencyMs, inputTokens, outputTokens, finishReason });
  return row;
}

const replyKeys = new WeakMap<StepPlan, ReplyKeys>();

function keysFor(plan: StepPlan, engine: Engine): ReplyKeys {
  let keys = replyKeys.get(plan);
  if (keys === undefined) replyKeys.set(plan, (keys = new ReplyKeys(plan, engine.config)));
  return keys;
}

/** `finishReason`: the last reply's (none when no reply came). */
type Outcome =
  | { ok: true; value: unknown; text: string; reasoning: string | undefined; finishReason: string; requests: number; usage: { inputTokens: number; outputTokens: number } }
  | { ok: false; failure: RowFailure; usage: { inputTokens: number; outputTokens: number }; finishReason?: string };

async function generateValid(plan: StepPlan, engine: Engine, messages: ChatMessage[], row: Row, runtime: NodeRuntime): Promise<Outcome> {
  const usage = { inputTokens: 0, outputTokens: 0 };
  const schema = { name: plan.id, jsonSchema: plan.outputSchema ?? {} };
  const conversation = [...messages];
  const askings = plan.step.maxRepairs + 1;
  let transportAttempts = 0;
  let last: { text: string; reason: string; finishReason: string } | undefined;

  for (let asking = 1; asking <= askings; asking++) {
    let result: GenerateResult;
    try {
      result = await engine.generate({ messages: conversation, sampling: plan.step.sampling, schema, signal: runtime.signal });
    } catch (error) {
      if (isChainetteError(error, "ENGINE_REQUEST") || isChainetteError(error, "PROMPT_TOO_LONG")) {
        const details = error as ChainetteError & { status?: number; attempts?: number };
        const failure: RowFailure = { node: plan.id, type: error.code, message: error.message, attempts: transportAttempts + (details.attempts ?? 1) };
        if (details.status !== undefined) failure.status = details.status;
        return { ok: false, failure, usage, ...(last === undefined ? {} : { finishReason: last.finishReason }) };
      }
      throw error; // ENGINE_DOWN, aborts, bugs: the run stops and can be resumed
    }
    transportAttempts += result.attempts;
    usage.inputTokens += result.usage.inputTokens;
    usage.outputTokens += result.usage.outputTokens;

    const reason = checkReply(plan, result);
    if (reason.ok) return { ok: true, value: reason.value, text: result.text, reasoning: result.reasoning, finishReason: result.finishReason, requests: asking, usage };
    last = { text: result.text, reason: reason.message, finishReason: result.finishReason };
    if (asking < askings) {
      runtime.emit({ type: "repair", node: plan.id, rowId: row.id, reason: reason.message });
      conversation.push(
        { role: "assistant", content: result.text },
        { role: "user", content: `Your reply did not match the required JSON schema: ${reason.message}\nReply again with only the corrected JSON object.` },
      );
    }
  }
  const failure: RowFailure = {
    node: plan.id, type: "SCHEMA_MISMATCH", attempts: askings,
    message: `no valid reply after ${askings} asking(s): ${last?.reason ?? "unknown"}`,
  };
  if (last !== undefined) failure.rawText = last.text;
  return { ok: false, failure, usage, ...(last === undefined ? {} : { finishReason: last.finishReason }) };
}

function checkReply(plan: StepPlan, result: Pick<GenerateResult, "text" | "finishReason">): { ok: true; value: unknown } | { ok: false; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(result.text);
  } catch (error) {
    const cut = result.finishReason === "length" ? " (the reply was cut at max_tokens: finish_reason \"length\")" : "";
    return { ok: false, message: `reply is not valid JSON${cut}: ${(error as Error).message}` };
  }
  // A reply nested too deeply to write (a free-form field, a recursive schema) is an invalid reply;
  // checked first, as a recursive outputModel would walk it into a stack overflow.
  const problem = nestingProblem(json);
  if (problem !== undefined) return { ok: false, message: `reply ${problem}` };
  const infinite = nonFinitePath(json);
  if (infinite !== undefined) return { ok: false, message: `reply has a number too large for a 64-bit float at ${infinite} (it would be written as null)` };
  const parsed = safeParse(plan.step.outputModel, json);
  if (!parsed.success) return { ok: false, message: parsed.error === undefined ? parsed.thrown : z.prettifyError(parsed.error).replaceAll("\n", "; ") };
  const transformed = parsed.data === json ? undefined : nestingProblem(parsed.data);
  return transformed === undefined ? { ok: true, value: parsed.data } : { ok: false, message: `reply (as the outputModel parsed it) ${transformed}` };
}

function end(plan: StepPlan, row: Row, runtime: NodeRuntime): Row {
  runtime.emit({ type: "node-end", node: plan.id, status: "failed", started: false, latencyMs: 0, inputTokens: 0, outputTokens: 0 });
  return row;
}
