/**
 * A corpus of JSON Schemas covering the keywords the simulator claims to honour, and a fast-check
 * arbitrary that builds random schemas from the same subset.
 */
import fc from "fast-check";

export const SCHEMA_CORPUS: Record<string, object> = {
  flat: {
    type: "object",
    properties: { answer: { type: "string" }, confidence: { type: "number", minimum: 0, maximum: 1 } },
    required: ["answer", "confidence"],
    additionalProperties: false,
  },
  nested: {
    type: "object",
    properties: {
      person: { type: "object", properties: { name: { type: "string", minLength: 2, maxLength: 5 }, age: { type: "integer", minimum: 18, maximum: 99 } }, required: ["name", "age"], additionalProperties: false },
      tags: { type: "array", items: { type: "string", enum: ["red", "green", "blue"] }, minItems: 2, maxItems: 3, uniqueItems: true },
    },
    required: ["person", "tags"],
  },
  constAndEnum: { type: "object", properties: { kind: { const: "answer" }, level: { enum: [1, "two", null, true] } }, required: ["kind", "level"] },
  unions: {
    type: "object",
    properties: {
      either: { anyOf: [{ type: "string", maxLength: 3 }, { type: "integer", minimum: 5, maximum: 6 }] },
      exactly: { oneOf: [{ type: "boolean" }, { type: "null" }] },
      nullable: { type: ["string", "null"] },
      openapiNullable: { type: "integer", nullable: true },
    },
    required: ["either", "exactly", "nullable", "openapiNullable"],
  },
  formats: {
    type: "object",
    properties: Object.fromEntries(["date-time", "date", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname", "duration"].map((format) => [format, { type: "string", format }])),
    required: ["date-time", "date", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname", "duration"],
  },
  numbers: {
    type: "object",
    properties: {
      exclusive: { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1 },
      multiple: { type: "integer", multipleOf: 7, minimum: 10, maximum: 30 },
      decimal: { type: "number", multipleOf: 0.25, minimum: -2, maximum: 2 },
      negative: { type: "integer", maximum: -1000 },
    },
    required: ["exclusive", "multiple", "decimal", "negative"],
  },
  references: {
    $defs: { point: { type: "object", properties: { x: { type: "number" }, y: { type: "number" } }, required: ["x", "y"] } },
    type: "object",
    properties: { from: { $ref: "#/$defs/point" }, to: { $ref: "#/$defs/point" }, path: { type: "array", items: { $ref: "#/$defs/point" }, minItems: 1 } },
    required: ["from", "to", "path"],
  },
  recursive: {
    $defs: { node: { type: "object", properties: { label: { type: "string" }, children: { type: "array", items: { $ref: "#/$defs/node" } } }, required: ["label", "children"] } },
    $ref: "#/$defs/node",
  },
  tupleAndRecord: {
    type: "object",
    properties: {
      pair: { type: "array", prefixItems: [{ type: "string" }, { type: "number" }], items: false, minItems: 2, maxItems: 2 },
      scores: { type: "object", additionalProperties: { type: "integer", minimum: 0 }, minProperties: 2 },
    },
    required: ["pair", "scores"],
  },
  allOf: { allOf: [{ type: "object", properties: { a: { type: "string" } }, required: ["a"] }, { properties: { b: { type: "boolean" } }, required: ["b"] }] },
  patterns: {
    type: "object",
    properties: { time: { type: "string", pattern: "^(?:[01]\\d|2[0-3]):[0-5]\\d(?::[0-5]\\d(?:\\.\\d+)?)?$" }, code: { type: "string", pattern: "^[a-z]+-\\d+$" } },
    required: ["time", "code"],
  },
  definitionsDraft7: {
    definitions: { color: { type: "string", enum: ["cyan", "magenta"] } },
    type: "object",
    properties: { color: { $ref: "#/definitions/color" } },
    required: ["color"],
  },
  topLevelArray: { type: "array", items: { type: "object", properties: { id: { type: "integer" } }, required: ["id"] }, minItems: 3, maxItems: 3 },
};

type Schema = Record<string, unknown>;

/** Random schemas from the supported subset (objects, arrays, enums, unions, bounds, formats). */
export const schemaArbitrary: fc.Arbitrary<Schema> = fc.letrec<{ schema: Schema; leaf: Schema }>((tie) => ({
  leaf: fc.oneof(
    fc.record({ type: fc.constant("string"), minLength: fc.integer({ min: 0, max: 10 }) }).chain((base) =>
      fc.integer({ min: base.minLength, max: base.minLength + 20 }).map((maxLength) => ({ ...base, maxLength }))),
    fc.record({ type: fc.constant("string"), format: fc.constantFrom("date-time", "date", "email", "uri", "uuid", "ipv4", "ipv6") }),
    fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 50 })).map(([minimum, span]) => ({ type: "integer", minimum, maximum: minimum + span })),
    fc.tuple(fc.double({ min: -100, max: 100, noNaN: true }), fc.double({ min: 0.5, max: 100, noNaN: true })).map(([minimum, span]) => ({ type: "number", minimum, maximum: minimum + span })),
    fc.constant({ type: "boolean" }),
    fc.uniqueArray(fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.constant(null)), { minLength: 1, maxLength: 4 }).map((values) => ({ enum: values })),
    fc.string({ maxLength: 6 }).map((value) => ({ const: value })),
  ),
  schema: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tie("leaf"),
    fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/), tie("schema"), { maxKeys: 4 }).chain((properties) =>
      fc.subarray(Object.keys(properties)).map((required) => ({ type: "object", properties, required, additionalProperties: false }))),
    fc.tuple(tie("schema"), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })).map(([items, minItems, extra]) => ({ type: "array", items, minItems, maxItems: minItems + extra })),
    fc.array(tie("schema"), { minLength: 1, maxLength: 3 }).map((anyOf) => ({ anyOf })),
    tie("leaf").filter((schema) => typeof schema.type === "string").map((schema): Schema => ({ ...schema, type: [schema.type, "null"] })),
  ),
})).schema;
