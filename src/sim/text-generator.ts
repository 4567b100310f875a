/**
 * Deterministic text: plain-text chat replies, strings bounded by minLength/maxLength, and the
 * JSON Schema string formats (date-time, email, uuid, ...). Everything draws from a SeededRandom.
 */
import type { SeededRandom } from "./seeded-random.js";

const WORDS = [
  "the", "model", "answer", "data", "stream", "batch", "token", "value", "result", "signal",
  "river", "stone", "light", "paper", "garden", "market", "winter", "orange", "silver", "quiet",
  "simple", "rapid", "careful", "honest", "useful", "clear", "brief", "steady", "local", "global",
  "reads", "writes", "checks", "builds", "finds", "keeps", "moves", "shows", "takes", "gives",
  "of", "and", "with", "for", "from", "into", "over", "under", "about", "across",
] as const;

/** One lowercase word. */
export function generateWord(random: SeededRandom): string {
  return random.pick(WORDS);
}

/** Space-separated words, exactly `length` characters long (ASCII only). */
export function generateBoundedString(random: SeededRandom, minLength: number, maxLength: number): string {
  const length = random.integer(Math.max(minLength, Math.min(maxLength, 8)), Math.min(maxLength, Math.max(minLength, 8) + 32));
  let text = "";
  while (text.length < length) text += (text === "" ? "" : " ") + generateWord(random);
  text = text.slice(0, length);
  // A trailing space reads oddly; swap it for a letter (length is unchanged).
  return text.endsWith(" ") ? `${text.slice(0, -1)}s` : text;
}

/** A plain-text chat reply of about `tokens` tokens (4 characters each): sentences of words. */
export function generateReply(random: SeededRandom, tokens: number): string {
  const targetLength = tokens * 4;
  let text = "";
  while (text.length < targetLength) {
    const wordCount = random.integer(6, 14);
    const words: string[] = [];
    for (let index = 0; index < wordCount; index++) words.push(generateWord(random));
    const sentence = words.join(" ");
    text += (text === "" ? "" : " ") + sentence.charAt(0).toUpperCase() + sentence.slice(1) + ".";
  }
  return text.slice(0, targetLength);
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

function hex(random: SeededRandom, digits: number): string {
  let text = "";
  for (let index = 0; index < digits; index++) text += random.integer(0, 15).toString(16);
  return text;
}

/** A value for a JSON Schema `format`, or undefined when the format is unknown. */
export function generateFormat(random: SeededRandom, format: string): string | undefined {
  const year = random.integer(2000, 2030);
  const date = `${year}-${pad(random.integer(1, 12))}-${pad(random.integer(1, 28))}`;
  const time = `${pad(random.integer(0, 23))}:${pad(random.integer(0, 59))}:${pad(random.integer(0, 59))}`;
  const word = generateWord(random);
  switch (format) {
    case "date-time":
      return `${date}T${time}Z`;
    case "date":
      return date;
    case "time":
      return `${time}Z`;
    case "iso-time":
      return time;
    case "duration":
      return `P${random.integer(1, 30)}D`;
    case "email":
    case "idn-email":
      return `${word}${random.integer(1, 999)}@example.com`;
    case "hostname":
    case "idn-hostname":
      return `${word}.example.com`;
    case "uri":
    case "url":
    case "iri":
    case "uri-reference":
    case "iri-reference":
      return `https://example.com/${word}/${random.integer(1, 9999)}`;
    case "uuid":
      return `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-${random.pick(["8", "9", "a", "b"])}${hex(random, 3)}-${hex(random, 12)}`;
    case "ipv4":
      return [1, 2, 3, 4].map(() => random.integer(1, 254)).join(".");
    case "ipv6":
      return `2001:db8::${hex(random, 4).replace(/^0+(?=.)/, "")}:${random.integer(1, 9999)}`;
    case "byte":
      return Buffer.from(word).toString("base64");
    default:
      return undefined;
  }
}

/**
 * Strings of common shapes, tried in turn when a schema has a `pattern` the generated string does
 * not match (the simulator does not invert regular expressions; see docs/simulator.md).
 */
export function patternCandidates(random: SeededRandom): string[] {
  const candidates = ["date-time", "date", "iso-time", "time", "email", "uuid", "ipv4", "ipv6", "uri", "hostname"]
    .map((format) => generateFormat(random, format) ?? "");
  const word = generateWord(random);
  candidates.push(word, word.toUpperCase(), String(random.integer(0, 9)), String(random.integer(10000, 99999)));
  candidates.push(`${word}-${random.integer(1, 99)}`, `${word}_${random.integer(1, 99)}`, "");
  return candidates;
}
