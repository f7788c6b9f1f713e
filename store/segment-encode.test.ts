/**
 * The segment encoder (segment-encode.ts) writes exactly the bytes of the plainer encoder it replaced
 * (test/segment-encode-reference.ts) — rows, path columns, dictionary, rollup tables, header — on random
 * schemaless events: nested objects and arrays, unicode (lone surrogates too), numbers (-0, huge, tiny),
 * booleans, nulls, missing locations, duplicate and unsorted times, fresh and compacted.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { referenceEncodeSegment } from "../test/segment-encode-reference.ts";
import type { JsonObject, JsonValue, StoredEvent } from "./json.ts";
import { Segment } from "./segment.ts";
import { encodeSegment } from "./segment-encode.ts";

const keyArb = fc.oneof(
  fc.constantFrom("org", "project", "supplies", "needs", "name", "value", "a", "b", "a.b", "__proto__", ""),
  fc.string({ maxLength: 4, unit: "grapheme" }),
  fc.string({ maxLength: 3, unit: "binary" }),
);
const leafArb: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 5 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constant(-0),
  fc.constantFrom("Childcare", "Legal Help", "1", "true", "null", "é", "日本"),
  fc.string({ maxLength: 6, unit: "grapheme" }),
  fc.string({ maxLength: 3, unit: "binary" }),
);
const { value: valueArb } = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leafArb,
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(keyArb, tie("value"), { maxKeys: 3 }),
  ),
}));
const dataArb: fc.Arbitrary<JsonObject> = fc.dictionary(keyArb, valueArb, { maxKeys: 5 });

const eventArb: fc.Arbitrary<StoredEvent> = fc
  .record({
    id: fc.oneof(fc.constantFrom("e1", "e2", "é3"), fc.string({ maxLength: 5, unit: "binary" })),
    type: fc.constantFrom("enrolled", "left", "ünï", ""),
    time: fc.oneof(
      fc.constantFrom(0, 1_000, Date.UTC(2026, 2, 29), Date.UTC(2026, 2, 29) + 0.5),
      fc.integer({ min: Date.UTC(2026, 2, 29), max: Date.UTC(2026, 2, 30) }),
    ),
    data: dataArb,
    located: fc.boolean(),
    lat: fc.double({ min: -90, max: 90, noNaN: true }),
    lon: fc.double({ min: -180, max: 180, noNaN: true }),
    ingested: fc.option(fc.integer({ min: 1, max: 2_000_000 }), { nil: undefined }),
    withJson: fc.boolean(),
  })
  .map(({ located, withJson, ingested, ...e }) => ({
    id: e.id,
    type: e.type,
    time: e.time,
    data: e.data,
    lat: located ? e.lat : Number.NaN,
    lon: located ? e.lon : Number.NaN,
    ...(ingested === undefined ? {} : { ingested }),
    ...(withJson ? { dataJson: JSON.stringify(e.data) } : {}),
  }));

/** Events like the bench's and a dashboard's: the rollup dimensions, with shared and repeated values. */
const realisticArb: fc.Arbitrary<StoredEvent> = fc
  .record({
    id: fc.integer({ min: 0, max: 50 }).map((i) => `ev-${i}`),
    type: fc.constantFrom("enrolled", "unenrolled", "user.joined"),
    time: fc.integer({ min: 0, max: 40 }).map((m) => Date.UTC(2026, 2, 29) + m * 60_000),
    org: fc.constantFrom("org-1", "org-2", 3, null),
    supplies: fc.array(
      fc.record({ name: fc.constantFrom("Childcare", "Transport", "1", 1), value: fc.integer({ max: 9 }) }),
      { maxLength: 3 },
    ),
    needs: fc.array(fc.constantFrom("Food", "Housing", "Food", true), { maxLength: 3 }),
  })
  .map(({ org, supplies, needs, ...e }) => ({
    ...e,
    data: { org, project: `p-${e.id.length}`, supplies, needs },
    lat: Number.NaN,
    lon: Number.NaN,
  }));

function expectSameBytes(events: StoredEvent[], compress: boolean) {
  const supersedes = compress ? ["a0", "b1"] : [];
  const fast = encodeSegment(events, 1_000, supersedes, compress);
  const reference = referenceEncodeSegment(events, 1_000, supersedes, compress);
  expect(Buffer.from(fast).equals(Buffer.from(reference))).toBe(true);
  // And it reads back: every event whole, every rollup table.
  const segment = new Segment(fast);
  expect(segment.count).toBe(events.length);
  for (let i = 0; i < segment.count; i++) segment.event(i);
  for (let k = 0; k < segment.rollups.length; k++) expect(segment.rollup(k).count).toBeGreaterThan(0);
}

describe("segment encoder", () => {
  it("writes the reference encoder's bytes on random schemaless events", () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 40 }), fc.boolean(), (events, compress) => {
        expectSameBytes(events, compress);
      }),
      { numRuns: 400 },
    );
  });

  it("writes the reference encoder's bytes, rollup tables included, on events with rollup dimensions", () => {
    fc.assert(
      fc.property(fc.array(realisticArb, { maxLength: 120 }), fc.boolean(), (events, compress) => {
        expectSameBytes(events, compress);
      }),
      { numRuns: 200 },
    );
  });

  it("writes the reference encoder's bytes for sorted input, unsorted input and a path grown past its first arrays", () => {
    const events: StoredEvent[] = Array.from({ length: 300 }, (_, i) => ({
      id: `e${i % 7}`,
      type: i % 3 ? "a" : "b",
      time: 1_000 + Math.floor(i / 2),
      data: { org: `o${i % 5}`, list: Array.from({ length: i % 4 }, (_, k) => ({ k, s: `é${k}` })) },
      lat: i % 2 ? 1 : Number.NaN,
      lon: i % 2 ? 2 : Number.NaN,
    }));
    expectSameBytes(events, false);
    expectSameBytes([...events].reverse(), false);
    expectSameBytes(events, true);
    expectSameBytes([], false);
  });
});
