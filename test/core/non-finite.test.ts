import { describe, expect, it } from "vitest";
import { nonFinitePath } from "../../src/core/non-finite.js";

describe("nonFinitePath", () => {
  it("finds a number JSON.parse overflowed to Infinity, with its path", () => {
    expect(nonFinitePath(JSON.parse('{"a":1,"b":[2,{"c":6e692}]}'))).toBe("$.b[1].c");
    expect(nonFinitePath(JSON.parse('{"odd key":-1e400}'))).toBe('$["odd key"]');
    expect(nonFinitePath(JSON.parse("1e309"))).toBe("$");
  });
  it("accepts finite values, big and small", () => {
    expect(nonFinitePath(JSON.parse('{"a":1.7e308,"b":[5e-324,-0,"Infinity"],"c":null}'))).toBeUndefined();
  });
});
