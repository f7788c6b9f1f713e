import { describe, expect, it } from "vitest";
import { dayOf, dayStart, eventsPrefix, isValidModule, parseSegmentKey, segmentKey } from "./keys.ts";

describe("storage keys", () => {
  it("accepts the contract's module names and refuses everything unstorage would misread", () => {
    for (const ok of ["sys-account", "mod-disco", "a", `a${"b".repeat(62)}`])
      expect(isValidModule(ok)).toBe(true);
    for (const bad of [
      "",
      "Mod",
      "1mod",
      "a:b",
      "a/b",
      "a?x=1",
      "a$",
      "..",
      "a.b",
      `a${"b".repeat(63)}`,
      "é",
    ]) {
      expect(isValidModule(bad), bad).toBe(false);
    }
  });

  it("builds keys only from allow-listed parts", () => {
    expect(segmentKey("acme", "mod-disco", "20260329", "abc123")).toBe(
      "v1:acme:mod-disco:ev:20260329:abc123",
    );
    expect(() => eventsPrefix("acme", "../x")).toThrow(/module/);
    expect(() => eventsPrefix("Acme", "m")).toThrow(/tenant/);
    expect(() => segmentKey("acme", "m", "2026-03-29", "a")).toThrow(/day/);
    expect(() => segmentKey("acme", "m", "20260329", "a:b")).toThrow(/segment/);
  });

  it("maps instants to UTC day partitions and back", () => {
    const t = Date.UTC(2026, 2, 29, 23, 59, 59, 999);
    expect(dayOf(t)).toBe("20260329");
    expect(dayOf(t + 1)).toBe("20260330");
    expect(dayStart("20260330")).toBe(t + 1);
  });

  it("parses only keys of the same module", () => {
    const prefix = eventsPrefix("acme", "mod");
    expect(parseSegmentKey(prefix, `${prefix}:20260101:s1`)).toEqual({ day: "20260101", segment: "s1" });
    expect(parseSegmentKey(prefix, "v1:acme:mod-disco:ev:20260101:s1")).toBeUndefined();
    expect(parseSegmentKey(prefix, `${prefix}:20260101:s1:x`)).toBeUndefined();
  });
});
