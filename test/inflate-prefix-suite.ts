/**
 * What every `Inflate` with a `prefix` must do (codec.ts), as one suite run for fflate (store/codec.test.ts)
 * and node:zlib (functions/node-inflate.test.ts): a prefix is the start of the whole and at least as long
 * as asked; a compacted segment's page of data texts equals whole reads and inflates only part of the
 * column; a short inflate is data_loss.
 */
import fc from "fast-check";
import { deflateSync } from "fflate";
import { describe, expect, it } from "vitest";
import type { Inflate } from "../store/codec.ts";
import { Segment } from "../store/segment.ts";
import { encodeSegment } from "../store/segment-encode.ts";

export function inflatePrefixSuite(name: string, inflate: Inflate): void {
  const prefix = inflate.prefix!;
  describe(`${name}: prefix`, () => {
    it("inflates at least what was asked for, equal to the start of the whole", () => {
      fc.assert(
        fc.property(
          fc.array(fc.string({ unit: "binary", maxLength: 300 }), { minLength: 1, maxLength: 400 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          (texts, where) => {
            const bytes = new TextEncoder().encode(texts.join(""));
            const packed = deflateSync(bytes, { level: 1 });
            const atLeast = Math.floor(where * bytes.length);
            const part = prefix(packed, atLeast, bytes.length);
            expect(part.length).toBeGreaterThanOrEqual(atLeast);
            expect(new Uint8Array(part)).toEqual(bytes.subarray(0, part.length));
          },
        ),
        { numRuns: 200 },
      );
    });

    it("gives a page's data texts as whole reads do, inflating only as far as its last row", () => {
      const events = Array.from({ length: 20_000 }, (_, i) => ({
        id: `e${String(i).padStart(5, "0")}`,
        type: "t",
        time: i,
        data: { n: i, s: `Zürich ${i * 7919}`.repeat(1 + (i % 5)) },
        lat: Number.NaN,
        lon: Number.NaN,
      }));
      const bytes = encodeSegment(events, 0, [], true);
      const whole = new Segment(bytes, "s");
      const inflated: number[] = [];
      const counting: Inflate = Object.assign((b: Uint8Array, size: number) => inflate(b, size), {
        prefix: (b: Uint8Array, atLeast: number, size: number) => {
          const out = prefix(b, atLeast, size);
          inflated.push(out.byteLength);
          return out;
        },
      });
      for (const rows of [[0, 1, 2], [10, 3, 99], [19_999], [15_000, 0]]) {
        expect(new Segment(bytes, "s", counting).dataTexts(rows)).toEqual(rows.map((r) => whole.dataText(r)));
      }
      // Rows 0-2 of 20,000 inflated a small part of the column; the last row, all of it.
      expect(inflated[0]).toBeLessThan(inflated[2]! / 4);
      // A whole column a page inflated serves whole-column reads (exports) without inflating again.
      let wholeInflates = 0;
      const once: Inflate = Object.assign(
        (b: Uint8Array, size: number) => {
          wholeInflates++;
          return inflate(b, size);
        },
        { prefix },
      );
      const paged = new Segment(bytes, "s", once);
      paged.dataTexts([19_999]);
      for (const r of [0, 7, 19_999]) expect(paged.dataText(r)).toBe(whole.dataText(r));
      expect(wholeInflates).toBe(0);
      const short: Inflate = Object.assign((b: Uint8Array, size: number) => inflate(b, size), {
        prefix: (b: Uint8Array, atLeast: number, size: number) =>
          prefix(b, atLeast, size).subarray(0, Math.max(0, atLeast - 1)),
      });
      expect(() => new Segment(bytes, "s", short).dataTexts([5])).toThrow(/corrupt column data/);
    });
  });
}
