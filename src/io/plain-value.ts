/**
 * Makes a decoded Parquet/Arrow value JSON-safe without losing what it says: int64 (BigInt) becomes
 * a number when it is a safe integer and a decimal string otherwise (never a JSON.stringify crash),
 * dates and timestamps become ISO strings, binary becomes base64, structs plain objects, lists
 * arrays; null stays null.
 */

export function plainBigInt(value: bigint): number | string {
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : value.toString();
}

export function plainDate(value: Date): string | null {
  return Number.isNaN(value.getTime()) ? null : value.toISOString();
}

export function plainBinary(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
}

export function toPlainValue(value: unknown): unknown {
  switch (typeof value) {
    case "bigint":
      return plainBigInt(value);
    case "object":
      if (value === null) return null;
      if (value instanceof Date) return plainDate(value);
      if (value instanceof Uint8Array) return plainBinary(value);
      if (Array.isArray(value)) return value.map(toPlainValue);
      if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>, toPlainValue);
      if (value instanceof Map) return Object.fromEntries([...value].map(([key, item]) => [String(key), toPlainValue(item)]));
      return plainObject(value as Record<string, unknown>);
    case "undefined":
      return null;
    default:
      return value;
  }
}

export function plainObject(value: Record<string, unknown>): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const key of Object.keys(value)) plain[key] = toPlainValue(value[key]);
  return plain;
}
