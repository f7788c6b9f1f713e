import { describe, expect, it } from "vitest";
import { generateEvents } from "../scripts/bench-data.ts";
import { crc32, useCrc32 } from "../store/crc32.ts";
import { Segment } from "../store/segment.ts";
import { encodeSegment } from "../store/segment-encode.ts";
import { nodeCrc32 } from "./node-crc32.ts";

describe("nodeCrc32", () => {
  it("agrees with the store's CRC-32 on segments and odd lengths, and segments read either way", () => {
    const bytes = encodeSegment(generateEvents(500), 1, [], true);
    for (const n of [0, 1, 7, 8, 9, 4095, bytes.length]) {
      const slice = bytes.subarray(bytes.length - n);
      expect(nodeCrc32(slice)).toBe(crc32(slice));
    }
    useCrc32(nodeCrc32);
    expect(new Segment(bytes).count).toBe(500);
    const broken = bytes.slice();
    broken[100]! ^= 1;
    expect(() => new Segment(broken)).toThrow(/checksum mismatch/);
  });

  it("a CRC-32 that disagrees is refused", () => {
    expect(() => useCrc32(() => 0)).toThrow(/disagrees/);
  });
});
