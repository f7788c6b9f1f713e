import { deflateSync } from "fflate";
import { describe, expect, it } from "vitest";
import { fflateInflate } from "../store/codec.ts";
import { crc32 } from "../store/crc32.ts";
import { Segment } from "../store/segment.ts";
import { encodeSegment } from "../store/segment-encode.ts";
import { inflatePrefixSuite } from "../test/inflate-prefix-suite.ts";
import { segmentColumns } from "../test/segment-columns.ts";
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
    const { kind, start, length } = segmentColumns(bytes).get("data.b")!;
    expect(kind).toBe("deflate");
    const broken = bytes.slice();
    broken.fill(0xff, start, start + length);
    // A damaged segment fails its checksum at once; re-sealed, the damage reaches the inflater.
    expect(() => new Segment(broken, "s", nodeInflate)).toThrow(/checksum mismatch/);
    const end = broken.length - 4;
    new DataView(broken.buffer).setUint32(end, crc32(broken.subarray(0, end)), true);
    expect(() => new Segment(broken, "s", nodeInflate).dataText(0)).toThrow(/corrupt column data/);
  });
});

inflatePrefixSuite("node:zlib", nodeInflate);
