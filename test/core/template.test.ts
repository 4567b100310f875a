import { describe, expect, it } from "vitest";
import { compileTemplate, TemplateValueError } from "../../src/core/template.js";
import { checkPath } from "../../src/core/json-schema.js";

describe("templates", () => {
  it("renders dotted paths without escaping and objects as JSON", () => {
    const template = compileTemplate("Q: {{ text }} <{{qa.answer}}> {{qa.tags}} {{n}} {{qa.items.1}}");
    expect(template.paths).toEqual(["text", "qa.answer", "qa.tags", "n", "qa.items.1"]);
    const out = template.render({ text: "a & b", n: 3, qa: { answer: "<b>", tags: ["x", "y"], items: ["p", "q"] } });
    expect(out).toBe('Q: a & b <<b>> ["x","y"] 3 q');
  });

  it("fails a row whose context lacks a path, naming the path", () => {
    const template = compileTemplate("{{qa.answer}}");
    expect(() => template.render({ qa: {} })).toThrow(TemplateValueError);
    expect(() => template.render({ qa: {} })).toThrow("`qa.answer`");
  });

  it("renders null and false, which are values", () => {
    expect(compileTemplate("{{a}}/{{b}}").render({ a: null, b: false })).toBe("null/false");
  });
});

describe("checkPath", () => {
  const schema = {
    type: "object",
    properties: { a: { $ref: "#/$defs/A" }, list: { type: "array", items: { type: "object", properties: { x: { type: "string" } }, additionalProperties: false } }, u: { anyOf: [{ type: "object", properties: { k: { type: "number" } } }, { type: "null" }] } },
    additionalProperties: false,
    $defs: { A: { type: "object", properties: { b: { type: "string" } }, additionalProperties: false } },
  };
  it("follows $ref, array indexes and anyOf", () => {
    expect(checkPath(schema, ["a", "b"])).toBe("ok");
    expect(checkPath(schema, ["a", "c"])).toBe("missing");
    expect(checkPath(schema, ["list", "0", "x"])).toBe("ok");
    expect(checkPath(schema, ["list", "first"])).toBe("missing");
    expect(checkPath(schema, ["u", "k"])).toBe("ok");
    expect(checkPath(schema, ["nope"])).toBe("missing");
    expect(checkPath({ type: "object", additionalProperties: true }, ["anything"])).toBe("unknown");
  });
});
