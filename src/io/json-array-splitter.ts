/**
 * Splits a JSON array file (`[{...}, {...}]`) into its elements' byte ranges as the bytes stream
 * in, without loading the file: a small state machine tracks strings, escapes and nesting depth,
 * and each element's bytes are handed to JSON.parse alone. Element `end` offsets let a resume seek
 * to just past a done element and go on from there.
 */

/** One element's bytes, from `start` to `stop` (exclusive), and the absolute offset just past it. */
export interface ArrayElement {
  buffer: Buffer;
  start: number;
  stop: number;
  end: number;
}

const enum Phase {
  BeforeArray,
  ElementOrEnd,
  CommaOrEnd,
  Element,
  InElement,
  Done,
}

export interface SplitJsonArrayOptions {
  /** Absolute byte offset just past a done element, to resume from. */
  offset?: number;
}

const isSpace = (byte: number): boolean => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

export async function* splitJsonArray(stream: AsyncIterable<Buffer>, options: SplitJsonArrayOptions = {}): AsyncGenerator<ArrayElement[]> {
  let offset = options.offset ?? 0;
  let phase: Phase = options.offset === undefined ? Phase.BeforeArray : Phase.CommaOrEnd;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let pending: Buffer[] = [];
  let first = offset === 0;
  for await (let chunk of stream) {
    if (first && chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
      chunk = chunk.subarray(3);
      offset += 3;
    }
    first = false;
    const elements: ArrayElement[] = [];
    let elementStart = 0;
    for (let position = 0; position < chunk.length; position++) {
      const byte = chunk[position] as number;
      if (phase === Phase.InElement) {
        if (inString) {
          if (escaped) escaped = false;
          else if (byte === 0x5c) escaped = true;
          else if (byte === 0x22) inString = false;
          continue;
        }
        if (byte === 0x22) {
          inString = true;
          continue;
        }
        if (byte === 0x7b || byte === 0x5b) {
          depth++;
          continue;
        }
        if ((byte === 0x7d || byte === 0x5d) && depth > 0) {
          depth--;
          if (depth === 0) {
            elements.push(element(pending, chunk, elementStart, position + 1, offset + position + 1));
            pending = [];
            phase = Phase.CommaOrEnd;
          }
          continue;
        }
        if (depth > 0 || !(byte === 0x2c || byte === 0x5d || isSpace(byte))) continue;
        // a scalar element ends at this delimiter, which the states below then read
        elements.push(element(pending, chunk, elementStart, position, offset + position));
        pending = [];
        phase = Phase.CommaOrEnd;
      }
      if (isSpace(byte)) continue;
      if (phase === Phase.BeforeArray && byte === 0x5b) phase = Phase.ElementOrEnd;
      else if (phase === Phase.CommaOrEnd && byte === 0x2c) phase = Phase.Element;
      else if ((phase === Phase.CommaOrEnd || phase === Phase.ElementOrEnd) && byte === 0x5d) phase = Phase.Done;
      else if (phase === Phase.Element || phase === Phase.ElementOrEnd) {
        phase = Phase.InElement;
        elementStart = position;
        depth = byte === 0x7b || byte === 0x5b ? 1 : 0;
        inString = byte === 0x22;
        escaped = false;
      } else throw new Error(`unexpected "${String.fromCharCode(byte)}" at byte ${offset + position}: ${expectation(phase)}`);
    }
    if (phase === Phase.InElement) pending.push(chunk.subarray(elementStart));
    offset += chunk.length;
    if (elements.length > 0) yield elements;
  }
  if ((phase as Phase) !== Phase.Done) throw new Error(`the file ends at byte ${offset} before the array's closing "]"`);
}

function element(pending: Buffer[], chunk: Buffer, start: number, stop: number, end: number): ArrayElement {
  if (pending.length === 0) return { buffer: chunk, start, stop, end };
  const joined = Buffer.concat([...pending, chunk.subarray(0, stop)]);
  return { buffer: joined, start: 0, stop: joined.length, end };
}

function expectation(phase: Phase): string {
  if (phase === Phase.BeforeArray) return 'expected "[" to open a JSON array';
  if (phase === Phase.Done) return "expected nothing after the array's closing \"]\"";
  return 'expected "," or "]" between array elements';
}
