/**
 * Small real-HTTP helpers shared by the simulator tests (undici over loopback, no mocks).
 */
import { request } from "undici";

export const MODEL = "sim-llama-3.1-8b";

export interface JsonReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: unknown;
}

/** POSTs a JSON body and reads the whole reply. */
export async function postJson(url: string, body: unknown, signal?: AbortSignal): Promise<JsonReply> {
  const response = await request(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(signal === undefined ? {} : { signal }),
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, body: text, json };
}

/** GETs a path and reads the reply as text. */
export async function getText(url: string): Promise<{ status: number; body: string }> {
  const response = await request(url);
  return { status: response.statusCode, body: await response.body.text() };
}

/** A chat body for the simulator's model. */
export function chatBody(content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: MODEL, messages: [{ role: "user", content }], ...extra };
}

/** A chat body asking for JSON that matches `schema` through `response_format`. */
export function schemaBody(content: string, schema: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return chatBody(content, { response_format: { type: "json_schema", json_schema: { name: "output", schema, strict: true } }, ...extra });
}

interface Completion {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: { index: number; message: { role: string; content: string }; finish_reason: string; logprobs: null }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** The reply as a chat completion (throws when it is not one). */
export function asCompletion(reply: JsonReply): Completion {
  if (reply.status !== 200) throw new Error(`expected 200, got ${reply.status}: ${reply.body}`);
  return reply.json as Completion;
}

/** The assistant text of a completion reply. */
export function contentOf(reply: JsonReply): string {
  const choice = asCompletion(reply).choices[0];
  if (choice === undefined) throw new Error("no choice in the reply");
  return choice.message.content;
}
