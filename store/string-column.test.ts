import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StringColumn } from "./string-column.ts";

/** ASCII-only columns (decoded whole once read often) and others (decoded string by string). */
const texts = fc.oneof(
  fc.array(fc.string({ maxLength: 12 }), { maxLength: 300 }),
  fc.array(fc.string({ maxLength: 6, unit: fc.constantFrom("a", "é", "😀", "z", "\u0000") }), {
    maxLength: 300,
  }),
);

describe("StringColumn", () => {
  it("reads every string back, however many are read and in whatever order, memoised or not", () => {
    fc.assert(
      fc.property(texts, fc.array(fc.nat(), { maxLength: 800 }), fc.boolean(), (strings, reads, memo) => {
        const encoder = new TextEncoder();
        const parts = strings.map((s) => encoder.encode(s));
        const offsets = new Uint32Array(parts.length + 1);
        parts.forEach((p, i) => {
          offsets[i + 1] = offsets[i]! + p.length;
        });
        const bytes = new Uint8Array(offsets[parts.length]!);
        parts.forEach((p, i) => {
          bytes.set(p, offsets[i]!);
        });
        const column = new StringColumn(offsets, bytes, memo);
        expect(column.length).toBe(strings.length);
        if (strings.length === 0) return;
        // Past the point where the column is decoded whole, and back over strings read before it.
        for (const n of [...reads, ...reads])
          expect(column.get(n % strings.length)).toBe(strings[n % strings.length]);
      }),
    );
  });
});
