/**
 * The messages between a `llamacpp` engine and its worker process (Node IPC, JSON). The worker
 * loads one GGUF model into one context of `sequences` parallel sequences and answers `generate`
 * requests by id; the engine never sends more requests at once than there are sequences.
 */
import type { ChatMessage, SamplingParams } from "./engine.js";

export interface LoadMessage {
  type: "load";
  modelPath: string;
  threads: number;
  sequences: number;
  /** Tokens per sequence; undefined: as much as memory allows, at most 4096 or the model's own. */
  contextSize: number | undefined;
  gpu: boolean;
}

export interface GenerateMessage {
  type: "generate";
  id: number;
  messages: ChatMessage[];
  sampling: SamplingParams;
  jsonSchema?: Record<string, unknown>;
}

export type ToWorker = LoadMessage | GenerateMessage | { type: "abort"; id: number } | { type: "close" };

export type FromWorker =
  | { type: "ready"; contextSize: number; sequences: number }
  /** `missingPackage`: node-llama-cpp itself could not be imported; `log`: llama.cpp's last log lines. */
  | { type: "load-failed"; message: string; missingPackage: boolean; log: string[] }
  | { type: "result"; id: number; text: string; finishReason: string; inputTokens: number; outputTokens: number }
  | { type: "failed"; id: number; message: string };
