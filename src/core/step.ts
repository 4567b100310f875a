import type { z } from "zod";
import type { Prompt } from "./row-context.js";
import type { SamplingParams } from "./sampling.js";

export interface StepOptions<Input extends z.ZodType, Output extends z.ZodType> {
  /** Unique in the chain; names the output folder and the template key (`{{id.field}}`). */
  id: string;
  /** Human-readable name for the live view. @default id */
  name?: string;
  /** Validates what reaches the step (the previous node's output, or the chain input). */
  inputModel?: Input;
  /** The reply must match it: requested with guided decoding and validated client-side. */
  outputModel: Output;
  /** An engine declared with `registerEngine` or in the engines YAML. */
  engineName: string;
  sampling?: SamplingParams;
  systemPrompt?: Prompt;
  userPrompt: Prompt;
  /** Times an invalid reply is re-asked (schema repair, separate from transport retries). @default 2 */
  maxRepairs?: number;
}

/** One LLM task with typed input and output. */
export class Step<Input extends z.ZodType = z.ZodType, Output extends z.ZodType = z.ZodType> {
  readonly kind = "step" as const;
  readonly id: string;
  readonly name: string;
  readonly inputModel: Input | undefined;
  readonly outputModel: Output;
  readonly engineName: string;
  readonly sampling: SamplingParams;
  readonly systemPrompt: Prompt | undefined;
  readonly userPrompt: Prompt;
  readonly maxRepairs: number;

  constructor(options: StepOptions<Input, Output>) {
    this.id = options.id;
    this.name = options.name ?? options.id;
    this.inputModel = options.inputModel;
    this.outputModel = options.outputModel;
    this.engineName = options.engineName;
    this.sampling = options.sampling ?? {};
    this.systemPrompt = options.systemPrompt;
    this.userPrompt = options.userPrompt;
    this.maxRepairs = options.maxRepairs ?? 2;
  }
}
