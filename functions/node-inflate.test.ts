import fc from "fast-check";
import { deflateSync } from "fflate";
import { describe, expect, it } from "vitest";
import { fflateInflate } from "../store/codec.ts";
import { crc32 } from "../store/crc32.ts";
import { encodeSegment, Segment } from "../store/segment-format.ts";
import { nodeInflate } from "./node-inflate.ts";

describe("nodeInflate", () => {
  it("inflates what fflate deflates, byte for byte as fflate does", () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ a: "Zürich 東京".repeat(500), n: [1, 2, 3] }));
    const packed = deflateSync(bytes, { level: 1 });
    const inflated = Buffer.from(nodeInflate(packed, bytes.length));
    expect(inflated.equals(Buffer.from(fflateInflate(packed, bytes.length)))).toBe(true);
    expect(inflated.equals(Buffer.from(bytes))).toBe(true);
  });

  it("reads a compacted segment's data like fflate, and a corrupt column fails as data_loss", () => {
    const events = Array.from({ length: 50 }, (_, i) => ({
      id: `e${i}`,
      type: "t",
      time: i,
      data: { n: i, s: "x".repeat(i) },
      lat: Number.NaN,
      lon: Number.NaN,
    }));
    const bytes = encodeSegment(events, 0, [], true);
    const node = new Segment(bytes, "s", nodeInflate);
    const pure = new Segment(bytes, "s");
    for (let i = 0; i < 50; i++) expect(node.dataText(i)).toBe(pure.dataText(i));
    const headerLength = new DataView(bytes.buffer).getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
    const [kind, offset, length] = header.cols["data.b"];
    expect(kind).toBe("deflate");
    const body = Math.ceil((12 + headerLength) / 8) * 8;
    const broken = bytes.slice();
    broken.fill(0xff, body + offset, body + offset + length);
    // A damaged segment fails its checksum at once; re-sealed, the damage reaches the inflater.
    expect(() => new Segment(broken, "s", nodeInflate)).toThrow(/checksum mismatch/);
    const end = broken.length - 4;
    new DataView(broken.buffer).setUint32(end, crc32(broken.subarray(0, end)), true);
    expect(() => new Segment(broken, "s", nodeInflate).dataText(0)).toThrow(/corrupt column data/);
  });

  it("inflates a prefix: at least what was asked for, equal to the start of the whole", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: "binary", maxLength: 300 }), { minLength: 1, maxLength: 400 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (texts, where) => {
          const bytes = new TextEncoder().encode(texts.join(""));
          const packed = deflateSync(bytes, { level: 1 });
          const atLeast = Math.floor(where * bytes.length);
          const part = Buffer.from(nodeInflate.prefix!(packed, atLeast, bytes.length));
          expect(part.length).toBeGreaterThanOrEqual(atLeast);
          expect(part.equals(Buffer.from(bytes.subarray(0, part.length)))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives a page's data texts as whole reads do, inflating only as far as its last row", () => {
    const events = Array.from({ length: 3000 }, (_, i) => ({
      id: `e${String(i).padStart(5, "0")}`,
      type: "t",
      time: i,
      data: { n: i, s: `Zürich ${i * 7919}`.repeat(1 + (i % 5)) },
      lat: Number.NaN,
      lon: Number.NaN,
    }));
    const bytes = encodeSegment(events, 0, [], true);
    const pure = new Segment(bytes, "s");
    const inflated: number[] = [];
    const counting: typeof nodeInflate = Object.assign(
      (b: Uint8Array, size: number) => nodeInflate(b, size),
      {
        prefix: (b: Uint8Array, atLeast: number, size: number) => {
          const out = nodeInflate.prefix!(b, atLeast, size);
          inflated.push(out.byteLength);
          return out;
        },
      },
    );
    for (const rows of [[0, 1, 2], [10, 3, 99], [2999], [1500, 0]]) {
      const node = new Segment(bytes, "s", counting);
      expect(node.dataTexts(rows)).toEqual(rows.map((r) => pure.dataText(r)));
    }
    // Rows 0-2 of 3,000 inflated a small part of the column; the last row, all of it.
    expect(inflated[0]).toBeLessThan(inflated[2]! / 4);
  });
});
