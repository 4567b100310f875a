/**
 * Converts Arrow vector values to plain JSON-safe values, driven by the column's Arrow type (the
 * JavaScript values alone cannot tell a timestamp from a number): timestamps and dates become ISO
 * strings, int64 a number or a string, binary base64, structs objects, lists arrays.
 */
import { DataType, type Schema } from "apache-arrow";
import { plainBigInt, plainBinary, toPlainValue } from "./plain-value.js";

export type ValueConverter = (value: unknown) => unknown;

export function schemaConverters(schema: Schema): { name: string; convert: ValueConverter }[] {
  return schema.fields.map((field) => ({ name: field.name, convert: converterFor(field.type as DataType) }));
}

export function converterFor(type: DataType): ValueConverter {
  if (DataType.isTimestamp(type) || DataType.isDate(type)) {
    return (value) => (value === null || value === undefined ? null : isoFromMilliseconds(Number(value)));
  }
  if (DataType.isInt(type)) return (value) => (typeof value === "bigint" ? plainBigInt(value) : (value ?? null));
  if (DataType.isBinary(type) || DataType.isFixedSizeBinary(type) || DataType.isLargeBinary(type)) {
    return (value) => (value instanceof Uint8Array ? plainBinary(value) : null);
  }
  if (DataType.isStruct(type)) {
    const children = (type.children).map((child) => ({ name: child.name, convert: converterFor(child.type as DataType) }));
    return (value) => {
      if (value === null || value === undefined) return null;
      const record = value as Record<string, unknown>;
      const plain: Record<string, unknown> = {};
      for (const child of children) plain[child.name] = child.convert(record[child.name]);
      return plain;
    };
  }
  if (DataType.isList(type) || DataType.isFixedSizeList(type) || DataType.isLargeList(type)) {
    const child = (type.children)[0];
    const convert = child ? converterFor(child.type as DataType) : toPlainValue;
    return (value) => (value === null || value === undefined ? null : Array.from(value as Iterable<unknown>, convert));
  }
  if (DataType.isDictionary(type)) return converterFor(type.dictionary as DataType);
  return (value) => toPlainValue(value);
}

function isoFromMilliseconds(milliseconds: number): string | null {
  const date = new Date(milliseconds);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
