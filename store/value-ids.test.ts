import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TAG_OBJECT, TAG_STRING } from "./segment-format.ts";
import { ValueIds } from "./value-ids.ts";

/** A value as a value key (fields.ts valueKey): s<string>, o<object JSON>, n<number>, t<tag>. */
const keyArb = fc.oneof(
  fc.string({ maxLength: 4, unit: fc.constantFrom("a", "b", "é", "😀", "{}") }).map((s) => `s${s}`),
  fc.constantFrom('{"x":1}', "{}", "[]").map((s) => `o${s}`),
  fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(0.5, 1e21, -2.5)).map((n) => `n${n}`),
  fc.constantFrom("t1", "t2", "t3"),
);

describe("ValueIds", () => {
  it("gives equal ids exactly to equal value keys, however a value is reached, and names each id by its key", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(keyArb, fc.boolean()), { maxLength: 60 }), (keyed) => {
        const ids = new ValueIds();
        const naive = new Map<string, number>();
        for (const [key, asBytes] of keyed) {
          // Reach the value the way the accumulator does: tagged text (or its UTF-8 bytes inside a
          // dictionary's blob), number, or key.
          const tag = key[0] === "s" ? TAG_STRING : TAG_OBJECT;
          const bytes = new TextEncoder().encode(`~${key.slice(1)}~`);
          const id =
            (key[0] === "s" || key[0] === "o") && asBytes
              ? ids.ofUtf8(tag, bytes, 1, bytes.length - 1)
              : key[0] === "s"
                ? ids.ofTagged(TAG_STRING, key.slice(1))
                : key[0] === "o"
                  ? ids.ofTagged(TAG_OBJECT, key.slice(1))
                  : key[0] === "n"
                    ? ids.ofNumber(Number(key.slice(1)))
                    : ids.ofKey(key);
          expect(ids.ofKey(key)).toBe(id);
          expect(ids.key(id)).toBe(key);
          if (!naive.has(key)) naive.set(key, naive.size);
          expect(id).toBe(naive.get(key));
        }
        expect(ids.size).toBe(naive.size);
      }),
    );
  });

  it("keeps one code table per dictionary and kind", () => {
    const ids = new ValueIds();
    const dict = {};
    const strings = ids.codes(dict, 10, TAG_STRING);
    strings[3] = 7;
    expect(ids.codes(dict, 10, TAG_STRING)).toBe(strings);
    expect(ids.codes(dict, 10, TAG_OBJECT)).not.toBe(strings);
    expect(ids.codes({}, 10, TAG_STRING)[3]).toBe(0);
  });
});
