/**
 * Writes a tiny llama-architecture GGUF model, so the `llamacpp` engine's tests run a real model
 * file through node-llama-cpp without downloading anything: a byte-level SentencePiece vocabulary
 * (`<unk>`, `<s>`, `</s>` and the 256 byte tokens `<0x00>`..`<0xFF>`), 2 blocks of width 64,
 * deterministic weights from a seeded generator, every tensor F32. About 0.5 MB, written in
 * milliseconds.
 *
 * The model knows nothing, so its replies are kept well-formed by a constant "bias channel":
 * channel 0 of every token embedding is a large constant and the other weights are small, so after
 * the final RMS norm channel 0 is about the same for every position, and `output.weight[t][0]`
 * acts as a fixed logit bias of token `t`. The biases favour what ends a JSON value (`"`, `}`, `]`,
 * `,`, EOS) and short digits, and push control bytes, non-ASCII bytes and whitespace down; the
 * JSON-schema grammar does the rest. Greedy decoding then gives short schema-valid replies; with a
 * temperature, strings of a few letters.
 *
 * GGUF v3 layout: magic "GGUF", version, tensor count, KV count, the KVs, the tensor infos, padding
 * to `general.alignment` (32), then each tensor's data at a 32-byte aligned offset.
 */
import { writeFileSync } from "node:fs";

export interface TinyGgufOptions {
  /** Seed of the weights. @default 1 */
  seed?: number;
  /** Leave these metadata keys out (a broken model for the error-path tests). */
  omitKeys?: readonly string[];
  /** Cut the file to this many bytes (a truncated download). */
  truncateTo?: number;
  /**
   * Logit biases replacing the defaults, by character or `"</s>"`: e.g. `{ "</s>": -30 }` never
   * ends a free-text reply, `{ e: 8 }` favours exponents in numbers.
   */
  bias?: Readonly<Record<string, number>>;
}

const embedding = 64;
const feedForward = 128;
const heads = 4;
const blocks = 2;
const contextLength = 2048;
const alignment = 32;

/** Token ids: 0 `<unk>`, 1 `<s>`, 2 `</s>`, then byte `b` is token `3 + b`. */
export const tinyVocabularySize = 3 + 256;
const byteToken = (byte: number): number => 3 + byte;

/** Writes the model to `path` and returns its size in bytes. */
export function writeTinyGguf(path: string, options: TinyGgufOptions = {}): number {
  let bytes = buildTinyGguf(options);
  if (options.truncateTo !== undefined) bytes = bytes.subarray(0, options.truncateTo);
  writeFileSync(path, bytes);
  return bytes.length;
}

export function buildTinyGguf(options: TinyGgufOptions = {}): Buffer {
  const random = mulberry32(options.seed ?? 1);
  const small = (scale: number) => () => (random() * 2 - 1) * scale;
  const tensors: { name: string; dims: number[]; data: Float32Array }[] = [];
  const add = (name: string, dims: number[], fill: (index: number) => number): void => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = fill(i);
    tensors.push({ name, dims, data });
  };

  // dims are GGML's ne[]: ne[0] is the contiguous one, so a {n_embd, n_vocab} matrix is one row
  // of n_embd values per token.
  const noise = small(0.05);
  add("token_embd.weight", [embedding, tinyVocabularySize], (i) => (i % embedding === 0 ? 4 : noise()));
  add("output_norm.weight", [embedding], () => 1);
  const bias = tokenBiases(options.bias ?? {});
  const outNoise = small(0.02);
  add("output.weight", [embedding, tinyVocabularySize], (i) => (i % embedding === 0 ? (bias[Math.floor(i / embedding)] ?? 0) / 8 : outNoise()));
  const weight = small(0.02);
  for (let block = 0; block < blocks; block++) {
    const prefix = `blk.${block}`;
    add(`${prefix}.attn_norm.weight`, [embedding], () => 1);
    add(`${prefix}.attn_q.weight`, [embedding, embedding], weight);
    add(`${prefix}.attn_k.weight`, [embedding, embedding], weight);
    add(`${prefix}.attn_v.weight`, [embedding, embedding], weight);
    add(`${prefix}.attn_output.weight`, [embedding, embedding], weight);
    add(`${prefix}.ffn_norm.weight`, [embedding], () => 1);
    add(`${prefix}.ffn_gate.weight`, [embedding, feedForward], weight);
    add(`${prefix}.ffn_up.weight`, [embedding, feedForward], weight);
    add(`${prefix}.ffn_down.weight`, [feedForward, embedding], weight);
  }

  const tokens = ["<unk>", "<s>", "</s>"];
  for (let byte = 0; byte < 256; byte++) tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`);
  const kvs: [string, Value][] = [
    ["general.architecture", str("llama")],
    ["general.name", str("chainette-tiny")],
    ["general.alignment", u32(alignment)],
    ["llama.context_length", u32(contextLength)],
    ["llama.embedding_length", u32(embedding)],
    ["llama.block_count", u32(blocks)],
    ["llama.feed_forward_length", u32(feedForward)],
    ["llama.attention.head_count", u32(heads)],
    ["llama.attention.head_count_kv", u32(heads)],
    ["llama.rope.dimension_count", u32(embedding / heads)],
    ["llama.attention.layer_norm_rms_epsilon", f32(1e-5)],
    ["llama.vocab_size", u32(tinyVocabularySize)],
    ["tokenizer.ggml.model", str("llama")],
    ["tokenizer.ggml.tokens", { kind: "array", of: 8, items: tokens.map(str) }],
    ["tokenizer.ggml.scores", { kind: "array", of: 6, items: tokens.map(() => f32(0)) }],
    // 2 unknown, 3 control, 6 byte
    ["tokenizer.ggml.token_type", { kind: "array", of: 5, items: tokens.map((_, id) => i32(id === 0 ? 2 : id < 3 ? 3 : 6)) }],
    ["tokenizer.ggml.unknown_token_id", u32(0)],
    ["tokenizer.ggml.bos_token_id", u32(1)],
    ["tokenizer.ggml.eos_token_id", u32(2)],
    ["tokenizer.ggml.add_bos_token", bool(true)],
    ["tokenizer.ggml.add_eos_token", bool(false)],
  ];
  const kept = kvs.filter(([key]) => !(options.omitKeys ?? []).includes(key));

  const out = new Writer();
  out.raw(Buffer.from("GGUF", "ascii"));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(kept.length);
  for (const [key, value] of kept) {
    out.string(key);
    out.value(value, true);
  }
  let offset = 0;
  for (const tensor of tensors) {
    out.string(tensor.name);
    out.u32(tensor.dims.length);
    for (const dim of tensor.dims) out.u64(dim);
    out.u32(0); // GGML_TYPE_F32
    out.u64(offset);
    offset = align(offset + tensor.data.byteLength);
  }
  out.pad();
  for (const tensor of tensors) {
    out.raw(Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    out.pad();
  }
  return out.bytes();
}

/** Logit bias per token, applied through channel 0 (see the module comment). */
function tokenBiases(overrides: Readonly<Record<string, number>>): Float32Array {
  const bias = new Float32Array(tinyVocabularySize);
  const set = (chars: string, value: number): void => {
    for (const char of chars) bias[byteToken(char.charCodeAt(0))] = value;
  };
  for (let byte = 0; byte < 256; byte++) bias[byteToken(byte)] = byte < 0x20 || byte >= 0x7f ? -30 : -4;
  set("abcdefghijklmnopqrstuvwxyz", 3);
  set("0123456789", 2);
  set("\"", 6);
  set("}],", 4);
  set("{[:", 0);
  set(" \t\n\r\\eE.+-", -6);
  bias[2] = 7; // </s>: ends the reply where the grammar allows it
  bias[0] = -30;
  bias[1] = -30;
  for (const [key, value] of Object.entries(overrides)) {
    if (key === "</s>") bias[2] = value;
    else set(key, value);
  }
  return bias;
}

type Value =
  | { kind: "u32"; value: number }
  | { kind: "i32"; value: number }
  | { kind: "f32"; value: number }
  | { kind: "bool"; value: boolean }
  | { kind: "str"; value: string }
  | { kind: "array"; of: number; items: Value[] };

const u32 = (value: number): Value => ({ kind: "u32", value });
const i32 = (value: number): Value => ({ kind: "i32", value });
const f32 = (value: number): Value => ({ kind: "f32", value });
const bool = (value: boolean): Value => ({ kind: "bool", value });
const str = (value: string): Value => ({ kind: "str", value });

/** GGUF value type ids. */
const typeIds = { u32: 4, i32: 5, f32: 6, bool: 7, str: 8, array: 9 } as const;

const align = (offset: number): number => Math.ceil(offset / alignment) * alignment;

class Writer {
  readonly #chunks: Buffer[] = [];
  #length = 0;

  raw(bytes: Buffer): void {
    this.#chunks.push(bytes);
    this.#length += bytes.length;
  }
  u32(value: number): void {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32LE(value);
    this.raw(bytes);
  }
  u64(value: number): void {
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64LE(BigInt(value));
    this.raw(bytes);
  }
  string(value: string): void {
    const bytes = Buffer.from(value, "utf8");
    this.u64(bytes.length);
    this.raw(bytes);
  }
  value(value: Value, withType: boolean): void {
    if (withType) this.u32(typeIds[value.kind]);
    const bytes = Buffer.alloc(4);
    switch (value.kind) {
      case "u32": bytes.writeUInt32LE(value.value); return this.raw(bytes);
      case "i32": bytes.writeInt32LE(value.value); return this.raw(bytes);
      case "f32": bytes.writeFloatLE(value.value); return this.raw(bytes);
      case "bool": return this.raw(Buffer.from([value.value ? 1 : 0]));
      case "str": return this.string(value.value);
      case "array":
        this.u32(value.of);
        this.u64(value.items.length);
        for (const item of value.items) this.value(item, false);
    }
  }
  pad(): void {
    const missing = align(this.#length) - this.#length;
    if (missing > 0) this.raw(Buffer.alloc(missing));
  }
  bytes(): Buffer {
    return Buffer.concat(this.#chunks, this.#length);
  }
}

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
