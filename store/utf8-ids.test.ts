import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Utf8Ids } from "./utf8-ids.ts";

const encoder = new TextEncoder();

/** Short texts over a small alphabet (so that equal texts and shared prefixes are common), with non-ASCII. */
const textArb = fc.oneof(
  fc.string({ maxLength: 3, unit: fc.constantFrom("a", "b", "é", "\uFEFF", "😀", "\u0000") }),
  fc.string({ maxLength: 40 }),
);

describe("Utf8Ids", () => {
  it("gives equal ids exactly to equal byte strings, in first-met order, and decodes each id to its text", () => {
    fc.assert(
      fc.property(fc.array(textArb, { maxLength: 400 }), fc.nat(7), (texts, pad) => {
        const ids = new Utf8Ids();
        const naive = new Map<string, number>();
        for (const text of texts) {
          // Reach the text as a dictionary does: its bytes somewhere inside a larger blob.
          const bytes = encoder.encode(text);
          const blob = new Uint8Array(pad + bytes.length + 3).fill(0x7a);
          blob.set(bytes, pad);
          const id = ids.intern(blob, pad, pad + bytes.length);
          if (!naive.has(text)) naive.set(text, naive.size);
          expect(id).toBe(naive.get(text));
          expect(ids.internText(text)).toBe(id);
          expect(ids.text(id)).toBe(text);
        }
        expect(ids.size).toBe(naive.size);
        for (const [text, id] of naive) expect(ids.text(id)).toBe(text);
      }),
    );
  });

  it("keeps telling texts apart as its tables grow", () => {
    const ids = new Utf8Ids();
    const n = 20_000;
    for (let i = 0; i < n; i++) expect(ids.internText(`user-${i}`)).toBe(i);
    for (let i = n - 1; i >= 0; i--) expect(ids.internText(`user-${i}`)).toBe(i);
    expect(ids.size).toBe(n);
    expect(ids.text(12_345)).toBe("user-12345");
    // At worst (just past a doubling) 4 slots of 8 bytes, 2 ends of 4 bytes and twice its 10 bytes per text.
    expect(ids.bytes).toBeLessThanOrEqual(n * (32 + 8 + 20));
  });
});
