import { describe, expect, it } from "vitest";
import { redactUrls } from "../../src/engines/redact-urls.js";

describe("redactUrls", () => {
  it("replaces user info and query values in every URL of a text", () => {
    expect(redactUrls("--endpoint fast=http://user:pw@127.0.0.1:8000/v1?api-key=k1")).toBe("--endpoint fast=http://REDACTED@127.0.0.1:8000/v1?api-key=REDACTED");
    expect(redactUrls("a https://h/x?k=1&j=2 b http://token@h/v1")).toBe("a https://h/x?k=REDACTED&j=REDACTED b http://REDACTED@h/v1");
  });

  it("leaves a text without credentials exactly as written, and changes nothing on a second pass", () => {
    for (const text of ["fast=http://LOCALHOST:8000/v1/", "run chain.ts -i in.jsonl -o out", "fast=https://api.example.com/v1"]) expect(redactUrls(text)).toBe(text);
    const once = redactUrls("fast=http://u:p@h:1/v1?api-key=k");
    expect(redactUrls(once)).toBe(once);
  });
});
