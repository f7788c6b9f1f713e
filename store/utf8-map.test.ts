import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Utf8Map } from "./utf8-map.ts";

const encoder = new TextEncoder();

/** Short texts over a small alphabet (so that equal texts and shared prefixes are common), with non-ASCII. */
const textArb = fc.oneof(
  fc.string({ maxLength: 3, unit: fc.constantFrom("a", "b", "é", "\uFEFF", "😀", "\u0000") }),
  fc.string({ maxLength: 40 }),
);

describe("Utf8Map", () => {
  it("keeps the first value of each byte string, and decodes the n-th text added to its text", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(textArb, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })), { maxLength: 400 }),
        fc.nat(7),
        (entries, pad) => {
          const map = new Utf8Map();
          const naive = new Map<string, number>();
          for (const [text, value] of entries) {
            // Reach the text as a dictionary does: its bytes somewhere inside a larger blob.
            const bytes = encoder.encode(text);
            const blob = new Uint8Array(pad + bytes.length + 3).fill(0x7a);
            blob.set(bytes, pad);
            if (!naive.has(text)) naive.set(text, value);
            expect(map.intern(blob, pad, pad + bytes.length, value)).toBe(naive.get(text));
            expect(map.internText(text, value ^ 1)).toBe(naive.get(text));
          }
          expect(map.size).toBe(naive.size);
          [...naive.keys()].forEach((text, n) => {
            expect(map.text(n)).toBe(text);
          });
        },
      ),
    );
  });

  it("keeps telling texts apart as its tables grow", () => {
    const map = new Utf8Map();
    const n = 20_000;
    for (let i = 0; i < n; i++) expect(map.internText(`user-${i}`, i)).toBe(i);
    for (let i = n - 1; i >= 0; i--) expect(map.internText(`user-${i}`, -1)).toBe(i);
    expect(map.size).toBe(n);
    expect(map.text(12_345)).toBe("user-12345");
    // At worst (just past a doubling) 4 slots of 8 bytes, 2 starts of 4 bytes and twice its 20-byte record.
    expect(map.bytes).toBeLessThanOrEqual(n * (32 + 8 + 40));
  });
});
