/**
 * The segment decoder under damage: every truncation and every flipped byte of a segment is a `data_loss`
 * TallyError (the CRC-32 catches it before a column is read), never a crash or wrong numbers; version-2
 * segments (columns listed by name) and version-1 segments (no checksum) are still read.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32 } from "./crc32.ts";
import { TallyError } from "./errors.ts";
import type { StoredEvent } from "./json.ts";
import { Segment } from "./segment.ts";
import { encodeSegment } from "./segment-encode.ts";
import { SEGMENT_VERSION } from "./segment-format.ts";

const events: StoredEvent[] = Array.from({ length: 40 }, (_, i) => ({
  id: `e${i}`,
  type: i % 3 ? "enrolled" : "left",
  time: Date.UTC(2026, 2, 29) + i * 60_000,
  data: { org: `o${i % 4}`, n: i, tags: ["a", { b: i }], ünï: "çødé" },
  lat: i % 2 ? 52 + i / 100 : Number.NaN,
  lon: i % 2 ? 13 + i / 100 : Number.NaN,
}));
const fresh = encodeSegment(events, 1_000);
const compacted = encodeSegment(events, 1_000, ["a0", "b1"], true);

/** Decodes and reads every column a query could touch. */
function readAll(bytes: Uint8Array) {
  const s = new Segment(bytes, "seg");
  const out: unknown[] = [s.count, s.minTime, s.maxTime, [...s.time], [...s.ingested], s.supersedes];
  for (let i = 0; i < s.count; i++) out.push(s.event(i));
  for (let i = 0; i < s.dict.length; i++) out.push(s.dict.get(i));
  out.push(s.path("org"), s.path("tags.b"));
  return out;
}

function expectDataLoss(bytes: Uint8Array) {
  let thrown: unknown;
  try {
    readAll(bytes);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(TallyError);
  expect((thrown as TallyError).code).toBe("data_loss");
  expect((thrown as TallyError).message).toMatch(/^seg: /);
}

/**
 * The same segment as version 1 wrote it: columns listed by name (`cols`, `sums`) in the header, no
 * trailer, version byte 1.
 */
function asVersion1(bytes: Uint8Array): Uint8Array {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const { columns, kinds, lengths, sums, ...rest } = JSON.parse(
    new TextDecoder().decode(bytes.subarray(12, 12 + length)),
  );
  const bodyStart = Math.ceil((12 + length) / 8) * 8;
  const cols: Record<string, [string, number, number]> = {};
  const sumsByName: Record<string, number> = {};
  const names: string[] = columns.split(" ");
  let offset = 0;
  names.forEach((name, i) => {
    cols[name] = [kinds.split(" ")[i], offset, lengths[i]];
    if (sums && name !== "hsum") sumsByName[name] = sums[i];
    offset = Math.ceil((offset + lengths[i]) / 8) * 8;
  });
  const json = new TextEncoder().encode(
    JSON.stringify({ ...rest, cols, ...(sums ? { sums: sumsByName } : {}) }),
  );
  const body = bytes.subarray(bodyStart, bytes.length - 4);
  const start = Math.ceil((12 + json.length) / 8) * 8;
  const v1 = new Uint8Array(start + body.length);
  v1.set(bytes.subarray(0, 4));
  v1[4] = 1;
  new DataView(v1.buffer).setUint32(8, json.length, true);
  v1.set(json, 12);
  v1.set(body, start);
  return v1;
}

describe("segment format", () => {
  it("writes version 3 and round-trips every event", () => {
    expect(fresh[4]).toBe(SEGMENT_VERSION);
    expect(SEGMENT_VERSION).toBe(3);
    for (const bytes of [fresh, compacted]) {
      const s = new Segment(bytes);
      expect(s.count).toBe(40);
      expect(s.event(7)).toMatchObject({ id: "e7", data: events[7]!.data, ingested: 1_000 });
    }
    expect(new Segment(compacted).supersedes).toEqual(["a0", "b1"]);
  });

  it("still reads version-1 segments, fresh and compacted", () => {
    expect(readAll(asVersion1(fresh))).toEqual(readAll(fresh));
    expect(readAll(asVersion1(compacted))).toEqual(readAll(compacted));
  });

  it("reads a segment at any byte offset of its buffer (unaligned pools)", () => {
    const pool = new Uint8Array(fresh.length + 3);
    pool.set(fresh, 3);
    expect(readAll(pool.subarray(3))).toEqual(readAll(fresh));
  });

  it("every truncation is data_loss (seeded)", () => {
    for (const bytes of [fresh, compacted]) {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), (n) => expectDataLoss(bytes.slice(0, n))),
        { seed: 7, numRuns: 300 },
      );
      // And every cut near the header and the end, exhaustively.
      for (let n = 0; n < 64; n++) expectDataLoss(bytes.slice(0, n));
      for (let n = bytes.length - 64; n < bytes.length; n++) expectDataLoss(bytes.slice(0, n));
    }
  });

  it("every flipped byte and bit is data_loss (seeded)", () => {
    for (const bytes of [fresh, compacted]) {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: bytes.length - 1 }),
          fc.integer({ min: 1, max: 255 }),
          (at, xor) => {
            const damaged = bytes.slice();
            damaged[at]! ^= xor;
            expectDataLoss(damaged);
          },
        ),
        { seed: 11, numRuns: 1_000 },
      );
    }
  });

  it("runs of garbage, bytes inserted or removed are data_loss (seeded)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: fresh.length }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.boolean(),
        (at, garbage, insert) => {
          const damaged = insert
            ? new Uint8Array([...fresh.subarray(0, at), ...garbage, ...fresh.subarray(at)])
            : new Uint8Array([...fresh.subarray(0, at), ...fresh.subarray(at + garbage.length)]);
          if (damaged.length === fresh.length && damaged.every((b, i) => b === fresh[i])) return;
          expectDataLoss(damaged);
        },
      ),
      { seed: 13, numRuns: 300 },
    );
  });

  /** `bytes` with its header changed by `edit` (padded to the same length) and its checksum made to hold. */
  const withHeader = <H>(bytes: Uint8Array, edit: (header: H) => void) => {
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const length = view.getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length)));
    edit(header);
    const json = new TextEncoder().encode(JSON.stringify(header));
    expect(json.length).toBeLessThanOrEqual(length);
    const out = bytes.slice();
    out.fill(0x20, 12, 12 + length);
    out.set(json, 12);
    const end = out.length - 4;
    new DataView(out.buffer).setUint32(end, crc32(out.subarray(0, end)), true);
    return out;
  };

  it("a header of the wrong shape under an intact checksum is data_loss: column kinds, lengths, sums", () => {
    type Header = { columns: string; kinds: string; lengths: number[]; sums: number[]; maxIngested?: number };
    const at = (h: Header, name: string) => h.columns.split(" ").indexOf(name);
    expect(readAll(withHeader(compacted, () => {}))).toEqual(readAll(compacted));
    const edits: [string, (h: Header) => void][] = [
      ["a kind", (h) => (h.kinds = h.kinds.replace("f64", "f32"))],
      ["a negative length", (h) => (h.lengths[at(h, "type")] = -1)],
      ["a length missing", (h) => h.lengths.pop()],
      ["a kind missing", (h) => (h.kinds = h.kinds.slice(0, h.kinds.lastIndexOf(" ")))],
      ["a sum missing", (h) => h.sums.pop()],
      ["a sum not a number", (h) => ((h.sums as unknown[])[at(h, "lon")] = "1")],
      ["a name twice", (h) => (h.columns = h.columns.replace("lon", "lat"))],
      ["names not a string", (h) => ((h as { columns: unknown }).columns = 7)],
      [
        "an empty name, its kind, length and sum listed",
        (h) => {
          h.columns += " ";
          h.kinds += " u8";
          h.lengths.push(0);
          h.sums.push(0);
          delete h.maxIngested;
        },
      ],
    ];
    for (const [what, edit] of edits) {
      expect(() => readAll(withHeader(compacted, edit)), what).toThrow("seg: corrupt header");
      expectDataLoss(withHeader(compacted, edit));
    }
    // A column past the end of the file: named. (The optional maxIngested makes room for the digits.)
    const past = withHeader(compacted, (h: Header) => {
      h.lengths[at(h, "id.b")] = 1e6;
      delete h.maxIngested;
    });
    expect(() => readAll(past)).toThrow("seg: truncated column id.b");
    expectDataLoss(past);
  });

  it("still reads version-2 segments (columns by name), whole and lazily, and refuses their wrong shapes", async () => {
    // As f97ff00 wrote it (test/fixtures/make-segments.ts): compacted, per-column sums.
    const v2 = new Uint8Array(
      readFileSync(new URL("../test/fixtures/segment-f97ff00-compacted.seg", import.meta.url)),
    );
    expect(v2[4]).toBe(2);
    const whole = new Segment(v2, "seg");
    expect(whole.count).toBe(60);
    // Lazily, from a head of its header and header sum only, every column fetched and checked.
    const head = v2.subarray(0, Segment.headLength(v2));
    const reads: number[] = [];
    const lazy = Segment.lazy(head, v2.byteLength, {
      read: async (ranges) =>
        ranges.map(([from, length]) => {
          reads.push(length);
          return v2.slice(from, from + length);
        }),
    })!;
    expect(lazy).toBeDefined();
    expect(await lazy.load()).toBe(true);
    expect(reads.length).toBeGreaterThan(0);
    expect(lazy.complete).toBe(true);
    for (let i = 0; i < 60; i++) expect(lazy.event(i)).toEqual(whole.event(i));
    type Header = { cols: Record<string, [string, number, number]>; sums: Record<string, number> };
    const edits: [string, (h: Header) => void][] = [
      ["a kind", (h) => (h.cols.time![0] = "f32")],
      ["an offset off 8", (h) => (h.cols.lat![1] += 4)],
      ["a negative length", (h) => (h.cols.type![2] = -1)],
      ["two entries", (h) => (h.cols.lon = h.cols.lon!.slice(0, 2) as [string, number, number])],
      ["a sum missing", (h) => delete h.sums.lon],
    ];
    for (const [what, edit] of edits) {
      expect(() => readAll(withHeader(v2, edit)), what).toThrow("seg: corrupt header");
      expectDataLoss(withHeader(v2, edit));
    }
  });

  it("random bytes, and a version-1 header of the wrong shape, are data_loss", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => expectDataLoss(bytes)),
      { seed: 17, numRuns: 300 },
    );
    const json = new TextEncoder().encode('{"count":"x","types":7}');
    const v1 = new Uint8Array(16 + json.length);
    v1.set([0x54, 0x53, 0x45, 0x47, 1]);
    new DataView(v1.buffer).setUint32(8, json.length, true);
    v1.set(json, 12);
    expectDataLoss(v1);
    const future = fresh.slice();
    future[4] = 4;
    expect(() => new Segment(future, "seg")).toThrow("seg: unsupported segment version 4");
    // An intact segment of a later format (its checksum holds) is a newer writer's, not damage.
    const end = future.length - 4;
    new DataView(future.buffer).setUint32(end, crc32(future.subarray(0, end)), true);
    const newer = (() => {
      try {
        new Segment(future, "seg");
      } catch (error) {
        return error as TallyError;
      }
    })();
    expect(newer?.code).toBe("failed_precondition");
    expect(newer?.message).toContain("newer Tally");
  });
});
