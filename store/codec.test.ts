import fc from "fast-check";
import { deflateSync } from "fflate";
import { describe, expect, it } from "vitest";
import { fflateInflate } from "./codec.ts";
import { encodeSegment, Segment } from "./segment-format.ts";

describe("fflateInflate.prefix", () => {
  it("inflates at least what was asked for, equal to the start of the whole", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: "binary", maxLength: 300 }), { minLength: 1, maxLength: 400 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (texts, where) => {
          const bytes = new TextEncoder().encode(texts.join(""));
          const packed = deflateSync(bytes, { level: 1 });
          const atLeast = Math.floor(where * bytes.length);
          const part = fflateInflate.prefix!(packed, atLeast, bytes.length);
          expect(part.length).toBeGreaterThanOrEqual(atLeast);
          expect(part).toEqual(bytes.subarray(0, part.length));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("serves a compacted segment's page of data texts as whole reads do, and reports damage", () => {
    const events = Array.from({ length: 3000 }, (_, i) => ({
      id: `e${String(i).padStart(5, "0")}`,
      type: "t",
      time: i,
      data: { n: i, s: `Zürich ${i * 7919}`.repeat(1 + (i % 5)) },
      lat: Number.NaN,
      lon: Number.NaN,
    }));
    const bytes = encodeSegment(events, 0, [], true);
    for (const rows of [[0, 1, 2], [10, 3, 99], [2999], [1500, 0]]) {
      const whole = new Segment(bytes, "s");
      expect(new Segment(bytes, "s").dataTexts(rows)).toEqual(rows.map((r) => whole.dataText(r)));
    }
    const cut: typeof fflateInflate = Object.assign(fflateInflate.bind(null), {
      prefix: (b: Uint8Array, atLeast: number, size: number) =>
        fflateInflate.prefix!(b, atLeast, size).subarray(0, Math.max(0, atLeast - 1)),
    });
    expect(() => new Segment(bytes, "s", cut).dataTexts([5])).toThrow(/corrupt column data/);
  });
});
