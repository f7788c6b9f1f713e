/**
 * decodeRecordRequest against the library: on random requests encoded by `toBinary`, on random wire-level
 * messages (unknown fields of every wire type, groups, repeated and merged fields, wrong wire types,
 * overlong varints), on random mutations and truncations of both, and on hand-written cases. Either both
 * decoders throw, or both return the same values: same key order, -0 apart from 0, NaN equal to NaN.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  type EventSchema,
  type RecordEventsRequest,
  RecordEventsRequestSchema,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { generateEvents, toEventInit } from "../scripts/bench-data.ts";
import type { StoredEvent } from "../store/json.ts";
import { encodeSegment } from "../store/segment-encode.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { decodeRecordRequest, preparedOf, type RecordRequestLike } from "./record-decoder.ts";
import { validateRecord } from "./validate-events.ts";

// ---------------------------------------------------------------- comparing the two decoders

const library = (bytes: Uint8Array) => fromBinary(RecordEventsRequestSchema, bytes);

/** What validateRecord can read of a decoded request, with the message type names. */
function plain(req: RecordEventsRequest) {
  return {
    $typeName: req.$typeName,
    module: req.module,
    events: req.events.map((e) => ({
      $typeName: e.$typeName,
      id: e.id,
      type: e.type,
      time: e.time && { $typeName: e.time.$typeName, seconds: e.time.seconds, nanos: e.time.nanos },
      data: e.data,
      location: e.location && { $typeName: e.location.$typeName, lat: e.location.lat, lon: e.location.lon },
    })),
  };
}

/** The first difference between two values: Object.is for primitives, same keys in the same order. */
function difference(a: unknown, b: unknown, path = "$"): string | undefined {
  if (typeof a !== typeof b) return `${path}: ${typeof a} vs ${typeof b}`;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
    return Object.is(a, b) ? undefined : `${path}: ${String(a)} vs ${String(b)}`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: prototypes differ`;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.join("\u0000") !== kb.join("\u0000")) return `${path}: keys [${ka}] vs [${kb}]`;
  for (const k of ka) {
    const d = difference(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      `${path}.${k}`,
    );
    if (d) return d;
  }
  return undefined;
}

type Outcome = { ok: true; value: ReturnType<typeof plain> } | { ok: false; error: string };

function outcome(decode: (bytes: Uint8Array) => RecordEventsRequest, bytes: Uint8Array): Outcome {
  try {
    return { ok: true, value: plain(decode(bytes)) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Asserts that both decoders throw, or both return the same request; returns the library's outcome. */
function agree(bytes: Uint8Array): Outcome {
  const theirs = outcome(library, bytes);
  const ours = outcome(decodeRecordRequest, bytes);
  const hex = Array.from(bytes.subarray(0, 200), (b) => b.toString(16).padStart(2, "0")).join(" ");
  if (theirs.ok !== ours.ok) {
    const what = theirs.ok
      ? `only ours threw (${(ours as { error: string }).error})`
      : "only the library threw";
    expect.fail(`${what}; library: ${theirs.ok ? "ok" : theirs.error}; bytes ${hex}`);
  }
  if (theirs.ok && ours.ok) {
    const d = difference(ours.value, theirs.value);
    if (d) expect.fail(`decoders differ at ${d}; bytes ${hex}`);
  }
  return theirs;
}

// ---------------------------------------------------------------- wire-level building blocks

const utf8 = (s: string) => Array.from(new TextEncoder().encode(s));
const MASK64 = (1n << 64n) - 1n;

/** Minimal LEB128 varint of the low 64 bits of v. */
function varint(v: bigint | number): number[] {
  let x = BigInt(v) & MASK64;
  const out: number[] = [];
  do {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    out.push(x ? b | 0x80 : b);
  } while (x);
  return out;
}

/** The same varint padded with `extra` redundant bytes (0x80 … 0x00): valid up to 10 bytes in all. */
function padded(v: bigint | number, extra: number): number[] {
  const out = varint(v);
  if (extra === 0) return out;
  out[out.length - 1]! |= 0x80;
  for (let i = 1; i < extra; i++) out.push(0x80);
  out.push(0);
  return out;
}

const tag = (no: number, wireType: number) => varint((BigInt(no) << 3n) | BigInt(wireType));
const delimited = (bytes: number[]) => [...varint(bytes.length), ...bytes];
const field = (no: number, bytes: number[]) => [...tag(no, 2), ...delimited(bytes)];
const str = (no: number, s: string) => field(no, utf8(s));
function f64(x: number): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, x, true);
  return Array.from(b);
}
const dbl = (no: number, x: number) => [...tag(no, 1), ...f64(x)];
const vint = (no: number, v: bigint | number) => [...tag(no, 0), ...varint(v)];
const bytesOf = (...parts: number[][]) => new Uint8Array(parts.flat());

// Struct / Value / ListValue by hand.
const entry = (key: string, value: number[]) => field(1, [...str(1, key), ...field(2, value)]);
const numberValue = (x: number) => dbl(2, x);
const stringValue = (s: string) => str(3, s);
const structValue = (...entries: number[][]) => field(5, entries.flat());
const listValue = (...values: number[][]) =>
  field(
    6,
    values.flatMap((v) => field(1, v)),
  );
const event = (...parts: number[][]) => field(2, parts.flat());

// ---------------------------------------------------------------- arbitraries

const text = fc.oneof(
  { arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 24 }), weight: 4 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 24 }), weight: 3 },
  { arbitrary: fc.string({ unit: "binary", minLength: 25, maxLength: 80 }), weight: 1 },
  { arbitrary: fc.string({ unit: "binary-ascii", minLength: 4000, maxLength: 9000 }), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      "",
      "\uFEFF",
      "\uFEFFabc",
      "a\uFEFF",
      "é",
      "日本語",
      "😀",
      "\u0000",
      "\u007f",
      "\u0080",
    ),
    weight: 1,
  },
);
const key = fc.oneof(
  { arbitrary: text, weight: 5 },
  {
    arbitrary: fc.constantFrom("__proto__", "constructor", "toString", "", "0", "1", "42", "-1", "01"),
    weight: 1,
  },
);
const specialDouble = fc.constantFrom(
  -0,
  0,
  1e308,
  -1e308,
  5e-324,
  Number.MAX_SAFE_INTEGER,
  Number.NaN,
  Infinity,
);
const double = fc.oneof(fc.double(), specialDouble, fc.integer());

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const { object } = fc.letrec<{ json: Json; object: { [key: string]: Json } }>((tie) => ({
  json: fc.oneof(
    { depthSize: "small", maxDepth: 6, depthIdentifier: "json" },
    fc.constant(null),
    fc.boolean(),
    double,
    text,
    fc.array(tie("json"), { maxLength: 4, depthIdentifier: "json" }),
    tie("object"),
  ),
  object: fc.dictionary(key, tie("json"), { maxKeys: 5, noNullPrototype: true, depthIdentifier: "json" }),
}));

const int64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const nanos = fc.oneof(int32, fc.constantFrom(0, 1, 999_999_999, 1_000_000_000, -1, -(2 ** 31)));

type EventInit = MessageInitShape<typeof EventSchema>;
const eventInit: fc.Arbitrary<EventInit> = fc
  .record({
    id: text,
    type: text,
    time: fc.option(fc.record({ seconds: int64, nanos }), { nil: undefined }),
    data: fc.option(object, { nil: undefined }),
    location: fc.option(fc.record({ lat: double, lon: double }), { nil: undefined }),
  })
  .map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as EventInit);

const encodedRequest = fc
  .record({ module: text, events: fc.array(eventInit, { maxLength: 6 }) })
  .map((init) => toBinary(RecordEventsRequestSchema, create(RecordEventsRequestSchema, init)));

// Raw wire bytes: fields in any order, repeated, unknown, with wrong wire types or overlong varints.
const unknownNo = fc.oneof(fc.integer({ min: 7, max: 40 }), fc.constant(2 ** 29 - 1));
const anyVarint = fc
  .tuple(fc.bigInt({ min: 0n, max: MASK64 }), fc.nat(9))
  .map(([v, extra]) => padded(v, extra));
const { unknown } = fc.letrec<{ unknown: number[] }>((tie) => ({
  unknown: fc.oneof(
    { depthSize: "small", maxDepth: 3, depthIdentifier: "unknown" },
    fc.tuple(unknownNo, anyVarint).map(([no, v]) => [...tag(no, 0), ...v]),
    fc
      .tuple(unknownNo, fc.uint8Array({ minLength: 8, maxLength: 8 }))
      .map(([no, b]) => [...tag(no, 1), ...b]),
    fc.tuple(unknownNo, fc.uint8Array({ maxLength: 12 })).map(([no, b]) => field(no, Array.from(b))),
    fc
      .tuple(unknownNo, fc.uint8Array({ minLength: 4, maxLength: 4 }))
      .map(([no, b]) => [...tag(no, 5), ...b]),
    fc
      .tuple(unknownNo, fc.array(tie("unknown"), { maxLength: 3, depthIdentifier: "unknown" }))
      .map(([no, fields]) => [...tag(no, 3), ...fields.flat(), ...tag(no, 4)]),
  ),
}));
/** A known field's tag: its declared wire type, now and then any other (protobuf-es ignores it). */
const knownTag = (no: number, wireType: number) =>
  fc
    .oneof({ arbitrary: fc.constant(wireType), weight: 12 }, fc.integer({ min: 0, max: 5 }))
    .map((wt) => tag(no, wt));
const rawString = (no: number, s: fc.Arbitrary<string>) =>
  fc.tuple(knownTag(no, 2), s).map(([t, v]) => [...t, ...delimited(utf8(v))]);
const rawMessage = (no: number, body: fc.Arbitrary<number[]>) =>
  fc.tuple(knownTag(no, 2), body).map(([t, b]) => [...t, ...delimited(b)]);
const fields = (...alternatives: fc.Arbitrary<number[]>[]) =>
  fc.array(fc.oneof(...alternatives, unknown), { maxLength: 5, depthIdentifier: "raw" }).map((f) => f.flat());

const rawTimestamp = fields(
  fc.tuple(knownTag(1, 0), int64, fc.nat(3)).map(([t, v, extra]) => [...t, ...padded(v, extra)]),
  fc.tuple(knownTag(2, 0), nanos, fc.nat(3)).map(([t, v, extra]) => [...t, ...padded(v, extra)]),
);
const rawLocation = fields(
  fc.tuple(knownTag(1, 1), double).map(([t, x]) => [...t, ...f64(x)]),
  fc.tuple(knownTag(2, 1), double).map(([t, x]) => [...t, ...f64(x)]),
);
const { struct } = fc.letrec<{ value: number[]; struct: number[]; entry: number[]; list: number[] }>(
  (tie) => ({
    value: fc
      .array(
        fc.oneof(
          { depthSize: "small", maxDepth: 4, depthIdentifier: "raw" },
          fc.tuple(knownTag(1, 0), fc.nat(3)).map(([t, n]) => [...t, ...varint(n)]),
          fc.tuple(knownTag(2, 1), double).map(([t, x]) => [...t, ...f64(x)]),
          rawString(3, text),
          fc.tuple(knownTag(4, 0), anyVarint).map(([t, v]) => [...t, ...v]),
          unknown,
          rawMessage(5, tie("struct")),
          rawMessage(6, tie("list")),
        ),
        { maxLength: 3, depthIdentifier: "raw" },
      )
      .map((f) => f.flat()),
    struct: fc
      .array(
        fc.oneof(
          { depthSize: "small", maxDepth: 4, depthIdentifier: "raw" },
          { arbitrary: unknown, weight: 1 },
          { arbitrary: rawMessage(1, tie("entry")), weight: 5 },
        ),
        { maxLength: 4, depthIdentifier: "raw" },
      )
      .map((f) => f.flat()),
    entry: fc
      .array(
        fc.oneof(
          { depthSize: "small", maxDepth: 4, depthIdentifier: "raw" },
          { arbitrary: rawString(1, key), weight: 4 },
          { arbitrary: unknown, weight: 1 },
          { arbitrary: rawMessage(2, tie("value")), weight: 4 },
        ),
        { maxLength: 3, depthIdentifier: "raw" },
      )
      .map((f) => f.flat()),
    list: fc
      .array(
        fc.oneof(
          { depthSize: "small", maxDepth: 4, depthIdentifier: "raw" },
          unknown,
          rawMessage(1, tie("value")),
        ),
        { maxLength: 4, depthIdentifier: "raw" },
      )
      .map((f) => f.flat()),
  }),
);
const rawEvent = fields(
  rawString(1, text),
  rawString(2, text),
  rawMessage(3, rawTimestamp),
  rawMessage(4, struct),
  rawMessage(5, rawLocation),
);
const rawRequest = fields(rawString(1, text), rawMessage(2, rawEvent)).map((b) => new Uint8Array(b));

type Mutation =
  | { op: "set"; at: number; byte: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; count: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }),
  }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);
function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = Array.from(bytes);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.op === "set" && b.length > 0) b[at % b.length] = m.byte;
    else if (m.op === "truncate") b = b.slice(0, at);
    else if (m.op === "insert") b.splice(at, 0, ...m.bytes);
    else if (m.op === "delete") b.splice(at, m.count);
  }
  return new Uint8Array(b);
}

// ---------------------------------------------------------------- properties

describe("decodeRecordRequest agrees with fromBinary", () => {
  it("on random requests encoded by toBinary", () => {
    fc.assert(
      fc.property(encodedRequest, (bytes) => {
        expect(agree(bytes).ok).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("on random wire-level messages (unknown fields, groups, repeats, wrong wire types, long varints)", () => {
    fc.assert(
      fc.property(rawRequest, (bytes) => {
        agree(bytes);
      }),
      { numRuns: 1000 },
    );
  });

  it("on random mutations and truncations of valid encodings", () => {
    fc.assert(
      fc.property(
        fc.oneof(encodedRequest, rawRequest),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (b, m) => {
          agree(mutate(b, m));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("on every truncation of a request", () => {
    const bytes = bytesOf(
      str(1, "mod-disco"),
      event(
        str(1, "é-1"),
        str(2, "enrolled"),
        field(3, [...vint(1, 1_767_225_600), ...vint(2, 5)]),
        field(4, entry("org", stringValue("org-1"))),
        field(5, [...dbl(1, 52.5), ...dbl(2, 13.4)]),
      ),
    );
    expect(agree(bytes).ok).toBe(true);
    for (let n = 0; n < bytes.length; n++) agree(bytes.subarray(0, n));
  });

  it("on every single-byte change of a request", () => {
    const bytes = bytesOf(
      str(1, "m"),
      event(
        str(2, "t"),
        field(4, entry("k", listValue(numberValue(1), stringValue("s")))),
        field(3, vint(2, -1)),
      ),
    );
    for (let i = 0; i < bytes.length; i++) {
      for (const b of [0x00, 0x01, 0x02, 0x07, 0x08, 0x0b, 0x0c, 0x0f, 0x7f, 0x80, 0xff]) {
        const copy = bytes.slice();
        copy[i] = b;
        agree(copy);
      }
    }
  });
});

// ---------------------------------------------------------------- hand-written cases

function decodeBoth(...parts: number[][]) {
  const bytes = bytesOf(...parts);
  const theirs = agree(bytes);
  if (!theirs.ok) throw new Error(`library refused: ${theirs.error}`);
  return decodeRecordRequest(bytes);
}
function refusedByBoth(...parts: number[][]): string {
  const bytes = bytesOf(...parts);
  const theirs = agree(bytes);
  if (theirs.ok) throw new Error("library accepted");
  expect(() => decodeRecordRequest(bytes)).toThrow(Error);
  return theirs.error;
}
const onlyEvent = (...parts: number[][]) => decodeBoth(str(1, "m"), event(...parts)).events[0]!;

describe("decodeRecordRequest by hand", () => {
  it("decodes an empty request, empty events and empty sub-messages", () => {
    expect(decodeBoth()).toMatchObject({ module: "", events: [] });
    const e = onlyEvent(field(3, []), field(4, []), field(5, []));
    expect(e.time).toMatchObject({ seconds: 0n, nanos: 0 });
    expect(e.data).toEqual({});
    expect(e.location).toMatchObject({ lat: 0, lon: 0 });
    expect(onlyEvent()).toMatchObject({
      id: "",
      type: "",
      time: undefined,
      data: undefined,
      location: undefined,
    });
  });

  it("skips unknown fields of every wire type at every level, groups included", () => {
    const junk = [
      ...vint(9, 300),
      ...dbl(10, 1.5),
      ...field(11, [1, 2, 3]),
      ...tag(12, 5),
      1,
      2,
      3,
      4,
      ...tag(13, 3),
      ...vint(1, 1),
      ...tag(14, 3),
      ...field(2, [9]),
      ...tag(14, 4),
      ...tag(13, 4),
    ];
    const req = decodeBoth(
      junk,
      str(1, "m"),
      event(
        junk,
        str(2, "t"),
        field(3, [...junk, ...vint(1, 7)]),
        field(5, [...junk, ...dbl(1, 1)]),
        field(4, [
          ...junk,
          ...entry("a", [...junk, ...numberValue(2)]),
          ...entry("b", [...junk, ...listValue([...junk, ...stringValue("x")])]),
        ]),
      ),
    );
    expect(req.module).toBe("m");
    const e = req.events[0]!;
    expect(e.time?.seconds).toBe(7n);
    expect(e.location?.lat).toBe(1);
    expect(e.data).toEqual({ a: 2, b: ["x"] });
  });

  it("lets the last of repeated scalar fields win", () => {
    const req = decodeBoth(
      str(1, "first"),
      str(1, "second"),
      event(str(2, "a"), str(2, "b"), str(1, "x"), str(1, "")),
    );
    expect(req.module).toBe("second");
    expect(req.events[0]).toMatchObject({ type: "b", id: "" });
  });

  it("merges a repeated location, time and data", () => {
    const e = onlyEvent(
      field(5, dbl(1, 10)),
      field(5, dbl(2, 20)),
      field(3, vint(1, 100)),
      field(3, vint(2, 5)),
      field(4, [...entry("b", numberValue(1)), ...entry("a", numberValue(2))]),
      field(4, [...entry("c", numberValue(3)), ...entry("b", stringValue("later"))]),
    );
    expect(e.location).toMatchObject({ lat: 10, lon: 20 });
    expect(e.time).toMatchObject({ seconds: 100n, nanos: 5 });
    expect(Object.entries(e.data!)).toEqual([
      ["b", "later"],
      ["a", 2],
      ["c", 3],
    ]);
  });

  it("reads Value kinds, merges a repeated struct_value or list_value, and gives null for no kind", () => {
    const e = onlyEvent(
      field(4, [
        ...entry("null", vint(1, 0)),
        ...entry("nullAnyNumber", vint(1, 7)),
        ...entry("number", numberValue(-0)),
        ...entry("string", stringValue("s")),
        ...entry("true", vint(4, 1)),
        ...entry("false", vint(4, 0)),
        ...entry("bool64", vint(4, 1n << 40n)),
        ...entry("none", []),
        ...entry("merged", [
          ...structValue(entry("x", numberValue(1))),
          ...structValue(entry("y", numberValue(2))),
        ]),
        ...entry("appended", [...listValue(numberValue(1)), ...listValue(numberValue(2))]),
        ...entry("replaced", [
          ...structValue(entry("x", numberValue(1))),
          ...numberValue(3),
          ...structValue(),
        ]),
        ...entry("lastKind", [...stringValue("s"), ...numberValue(4)]),
      ]),
    );
    expect(e.data).toEqual({
      null: null,
      nullAnyNumber: null,
      number: -0,
      string: "s",
      true: true,
      false: false,
      bool64: true,
      none: null,
      merged: { x: 1, y: 2 },
      appended: [1, 2],
      replaced: {},
      lastKind: 4,
    });
    expect(Object.is(e.data!.number, -0)).toBe(true);
  });

  it("reads map entries as protobuf-es does: missing key, missing value, duplicates, __proto__", () => {
    const e = onlyEvent(
      field(4, [
        ...field(1, field(2, stringValue("no key"))),
        ...field(1, str(1, "noValue")),
        ...field(1, [...field(2, numberValue(1)), ...str(1, "valueFirst")]),
        ...field(1, [...str(1, "twice"), ...field(2, numberValue(1)), ...field(2, stringValue("second"))]),
        ...entry("dup", numberValue(1)),
        ...entry("__proto__", structValue(entry("polluted", vint(4, 1)))),
        ...entry("dup", numberValue(2)),
      ]),
    );
    expect(Object.entries(e.data!)).toEqual([
      ["", "no key"],
      ["noValue", null],
      ["valueFirst", 1],
      ["twice", "second"],
      ["dup", 2],
    ]);
    expect(Object.getPrototypeOf(e.data)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("does not skip unknown fields inside a map entry, like protobuf-es", () => {
    // Field 3 (varint 0x0a): protobuf-es reads the tag, then takes the payload byte 0x0a as the next tag,
    // which is the key field: the entry's key becomes the following length-delimited bytes.
    const e = onlyEvent(field(4, field(1, [...tag(3, 0), 0x0a, 1, 0x41, ...field(2, numberValue(5))])));
    expect(e.data).toEqual({ A: 5 });
    refusedByBoth(str(1, "m"), event(field(4, field(1, [...tag(3, 0), 0x05]))));
  });

  it("reads int64 seconds and int32 nanos, negative ones in 10 bytes", () => {
    const e = onlyEvent(field(3, [...vint(1, -62_135_596_800n), ...vint(2, -1)]));
    expect(e.time).toMatchObject({ seconds: -62_135_596_800n, nanos: -1 });
    expect(varint(-1)).toHaveLength(10);
    for (const s of [
      0n,
      1n,
      -1n,
      (1n << 63n) - 1n,
      -(1n << 63n),
      1n << 53n,
      -(1n << 53n) - 1n,
      253_402_300_799n,
    ]) {
      expect(onlyEvent(field(3, vint(1, s))).time?.seconds).toBe(s);
    }
    for (const n of [0, 999_999_999, 2 ** 31 - 1, -(2 ** 31)]) {
      expect(onlyEvent(field(3, vint(2, n))).time?.nanos).toBe(n);
    }
    // A uint32 read keeps the low 32 bits of a longer varint.
    expect(onlyEvent(field(3, vint(2, (1n << 40n) + 5n))).time?.nanos).toBe(5);
  });

  it("reads doubles bit for bit", () => {
    for (const x of [-0, 1e308, -1e308, 5e-324, Number.NaN, Infinity, -Infinity, 52.52]) {
      expect(Object.is(onlyEvent(field(5, dbl(1, x))).location?.lat, x)).toBe(true);
    }
  });

  it("decodes UTF-8 as sent: a leading BOM stays (text-encoding.ts), invalid bytes throw", () => {
    expect(onlyEvent(str(1, "\uFEFFid"), str(2, "a\uFEFF")).id).toBe("\uFEFFid");
    expect(onlyEvent(str(2, "a\uFEFF")).type).toBe("a\uFEFF");
    expect(onlyEvent(str(2, "x".repeat(30) + "😀")).type).toBe("x".repeat(30) + "😀");
    expect(onlyEvent(str(2, "y".repeat(10_000))).type).toBe("y".repeat(10_000));
    refusedByBoth(str(1, "m"), event(field(2, [0x61, 0xff])));
    refusedByBoth(str(1, "m"), event(field(2, [0xed, 0xa0, 0x80]))); // an encoded lone surrogate
    refusedByBoth(field(1, [...utf8("z".repeat(40)), 0xc3]));
    refusedByBoth(str(1, "m"), event(field(4, field(1, field(1, [0xc0, 0x80])))));
  });

  it("reads a known field by its declared type whatever its wire type", () => {
    const e = onlyEvent([...tag(2, 0), 1, 0x41], [...tag(5, 3), ...delimited(dbl(1, 3))]);
    expect(e.type).toBe("A");
    expect(e.location?.lat).toBe(3);
  });

  it("lets a sub-message's last field run past its length, like protobuf-es", () => {
    // The event claims 2 bytes but its type field is 5 bytes long: the parent goes on after it.
    const req = decodeBoth(str(1, "m"), [...tag(2, 2), 2, ...str(2, "abc")], str(1, "after"));
    expect(req.events[0]?.type).toBe("abc");
    expect(req.module).toBe("after");
  });

  it("refuses what protobuf-es refuses", () => {
    refusedByBoth([0x00]); // field 0
    refusedByBoth(tag(1, 6), [0]);
    refusedByBoth(tag(1, 7), [0]);
    refusedByBoth([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]); // tag longer than 5 bytes
    refusedByBoth([0x80, 0x80, 0x80, 0x80, 0x10]); // tag over 32 bits
    refusedByBoth([0x8a, 0x80, 0x80, 0x80, 0x10], [1, 0x41]); // the same, though its low 32 bits are a fine tag
    expect(decodeBoth([0x8a, 0x80, 0x80, 0x80, 0x00], [1, 0x41]).module).toBe("A"); // 5 bytes, in range
    refusedByBoth(tag(9, 4)); // stray end group
    refusedByBoth(tag(9, 3), tag(8, 4)); // mismatched end group
    refusedByBoth(tag(9, 3)); // unterminated group
    refusedByBoth(tag(9, 0), Array(11).fill(0x80)); // unterminated unknown varint
    refusedByBoth(tag(1, 2), [5, 0x61]); // length past the end
    refusedByBoth(tag(1, 2), [0xff, 0xff, 0xff, 0xff, 0x0f]); // 4 GiB length
    refusedByBoth(tag(1, 2), Array(10).fill(0xff)); // varint longer than 10 bytes
    refusedByBoth(str(1, "m"), event(field(3, [...tag(1, 0), ...Array(10).fill(0x80), 0])));
    refusedByBoth(str(1, "m"), event(field(5, [...tag(1, 1), 0, 0, 0])));
    refusedByBoth(str(1, "m"), [...tag(2, 2), 10, ...str(1, "x")]);
  });

  it("limits nesting exactly where protobuf-es does", () => {
    // data's Struct is message depth 3 and its Value 4; each level of nesting adds a Struct (or ListValue)
    // and a Value. The innermost value is a number, or an empty struct or list one level deeper.
    const innermost = [numberValue(1), structValue(), listValue()];
    const nested = (levels: number, inner: number[]): number[] => {
      let value = inner;
      for (let i = 0; i < levels; i++) value = structValue(entry("k", value));
      return value;
    };
    const listed = (levels: number, inner: number[]): number[] => {
      let value = inner;
      for (let i = 0; i < levels; i++) value = listValue(value);
      return value;
    };
    const deepest = (levels: number, inner: number[]) => 4 + 2 * levels + (inner === innermost[0] ? 0 : 1);
    for (let levels = 46; levels <= 49; levels++) {
      for (const inner of innermost) {
        for (const wrap of [nested, listed]) {
          const ok = agree(bytesOf(event(field(4, entry("top", wrap(levels, inner)))))).ok;
          expect(ok).toBe(deepest(levels, inner) <= 100);
        }
      }
    }
    // Deep unknown groups use the remaining budget.
    for (const depth of [97, 98, 99, 100, 101]) {
      const open = Array.from({ length: depth }, () => tag(9, 3)).flat();
      const close = Array.from({ length: depth }, () => tag(9, 4)).flat();
      agree(bytesOf(open, close));
      agree(bytesOf(event(open, close)));
    }
    expect(() =>
      decodeRecordRequest(bytesOf(event(field(4, entry("top", nested(200, innermost[0]!)))))),
    ).toThrow(/recursion/);
  });

  it("returns the generated message type, which validateRecord takes as is", () => {
    expectTypeOf(decodeRecordRequest).returns.toEqualTypeOf<RecordRequestLike>();
    expectTypeOf<RecordRequestLike>().toExtend<Parameters<typeof validateRecord>[0]>();
    const bytes = bytesOf(
      str(1, "mod-disco"),
      event(str(1, "e1"), str(2, "enrolled"), field(3, vint(1, 1_767_225_600))),
    );
    expect(stored(decodeRecordRequest(bytes))).toEqual(stored(library(bytes)));
  });
});

// ---------------------------------------------------------------- prepared data

const utf8Text = new TextDecoder();

/** What validateRecord stores, as plain values: the data's JSON text from where the event holds it. */
function stored(req: RecordEventsRequest) {
  return validateRecord(req, DEFAULT_LIMITS, 0).map((e: StoredEvent) => {
    let text = e.dataJson;
    if (e.prepared) {
      const row = e.preparedRow!;
      const start = row > 0 ? e.prepared.jsonEnd[row - 1]! : 0;
      text = utf8Text.decode(e.prepared.json.subarray(start, e.prepared.jsonEnd[row]!));
    }
    return { id: e.id, type: e.type, time: e.time, lat: e.lat, lon: e.lon, data: e.data, text };
  });
}

/** Validation's outcome for the library's request and ours: the same error, or the same segment bytes. */
function sameStored(bytes: Uint8Array): "prepared" | "objects" | "refused" {
  const ours = decodeRecordRequest(bytes);
  const theirs = library(bytes);
  const validate = (req: RecordEventsRequest) => {
    try {
      return validateRecord(req, DEFAULT_LIMITS, 0);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  };
  const a = validate(ours);
  const b = validate(theirs);
  if (typeof a === "string" || typeof b === "string") {
    expect(a).toEqual(b);
    return "refused";
  }
  expect(stored(ours)).toEqual(stored(theirs));
  expect(firstDifference(encodeSegment(a, 1), encodeSegment(b, 1))).toBeUndefined();
  return a.some((e) => e.prepared) ? "prepared" : "objects";
}

/** Where two byte arrays first differ (a length counts), or undefined. */
function firstDifference(a: Uint8Array, b: Uint8Array): number | undefined {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? undefined : n;
}

describe("prepared data (JSON text and values straight from the wire)", () => {
  it("stores what the object path stores: the same texts, values, errors and segment bytes", () => {
    // Valid envelopes around the random data of the decoder's own properties (odd keys, BOMs, NaN, …).
    const request = fc
      .array(fc.tuple(fc.option(object, { nil: undefined }), fc.boolean()), { minLength: 1, maxLength: 6 })
      .map((events) =>
        toBinary(
          RecordEventsRequestSchema,
          create(RecordEventsRequestSchema, {
            module: "mod-disco",
            events: events.map(([data, located], i) => ({
              id: `e${i}`,
              type: "enrolled",
              time: { seconds: 1_767_225_600n + BigInt(i) },
              ...(data ? { data } : {}),
              ...(located ? { location: { lat: 52.5, lon: 13.4 } } : {}),
            })),
          }),
        ),
      );
    const seen = { prepared: 0, objects: 0, refused: 0 };
    fc.assert(
      fc.property(request, (bytes) => {
        seen[sameStored(bytes)]++;
      }),
      { numRuns: 600 },
    );
    // Most random requests go the prepared way; the rest show that falling back is right too.
    expect(seen.prepared).toBeGreaterThan(100);
    expect(seen.objects + seen.refused).toBeGreaterThan(20);
  });

  it("does so on data made of the cases the prepared form must write exactly", () => {
    const odd = fc.oneof(
      fc.constantFrom("", '"', "\\", "\u0000", "\u001f", "\b\f\n\r\t", "\u007f", "é", "😀", "\u2028", "a.b"),
      fc.string({ unit: "binary", maxLength: 12 }),
    );
    const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small", maxDepth: 5 },
        fc.constant(null),
        fc.boolean(),
        fc.constantFrom(-0, 0, 1, 9, 10, 99, 1e9 - 1, 1e9, 1e21, 1.5, -2.5e-7, 5e-324, 2 ** 53),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        odd,
        fc.array(tie("v"), { maxLength: 4 }),
        fc.dictionary(fc.oneof(odd, fc.constantFrom("name", "value", "unit", "a", "b")), tie("v"), {
          maxKeys: 4,
          noNullPrototype: true,
        }),
      ),
    })).v;
    const seen = { prepared: 0, objects: 0, refused: 0 };
    const data = fc.dictionary(fc.oneof(odd, fc.constantFrom("org", "supplies", "needs")), json, {
      maxKeys: 6,
      noNullPrototype: true,
    });
    fc.assert(
      fc.property(fc.array(data, { minLength: 1, maxLength: 8 }), (datas) => {
        const req = create(RecordEventsRequestSchema, {
          module: "m",
          events: datas.map((d, i) => ({
            id: `e${i}`,
            type: i % 2 ? "a" : "b",
            time: { seconds: 1_767_225_600n + BigInt(i) },
            data: d as MessageInitShape<typeof EventSchema>["data"],
          })),
        });
        seen[sameStored(toBinary(RecordEventsRequestSchema, req))]++;
      }),
      { numRuns: 800 },
    );
    // Digit-first keys (from `odd`) go the object way; most requests do not have one.
    expect(seen.prepared).toBeGreaterThan(300);
  });

  it("keeps a batch's paths, texts and objects apart from the next batch's (process-wide memos)", () => {
    const one = benchBatch(300, 1);
    const two = benchBatch(300, 2);
    for (const bytes of [one, two, one]) expect(sameStored(bytes)).toBe("prepared");
  });

  it("leaves a request of ever new keys to the object path (the process-wide key tree stays bounded)", () => {
    const events = Array.from({ length: 9 }, (_, i) => ({
      id: `e${i}`,
      type: "t",
      time: { seconds: 1_767_225_600n + BigInt(i) },
      data: Object.fromEntries(Array.from({ length: 999 }, (_, k) => [`k${i}-${k}`, k])),
    }));
    const bytes = toBinary(
      RecordEventsRequestSchema,
      create(RecordEventsRequestSchema, { module: "m", events }),
    );
    expect(sameStored(bytes)).toBe("objects");
    expect(sameStored(benchBatch(100, 9))).toBe("prepared");
  });

  it("leaves data over validation's limits to the object path, which names the problem", () => {
    let deep: Record<string, unknown> = { leaf: "x".repeat(100) };
    for (let i = 0; i < 20; i++) deep = { [`k${i}`]: deep, n: i };
    const wide = Object.fromEntries(Array.from({ length: 1_200 }, (_, k) => [`w${k}`, k]));
    const big = { text: "y".repeat(70_000) };
    for (const data of [deep, wide, big]) {
      const req = create(RecordEventsRequestSchema, {
        module: "m",
        events: [
          { id: "a", type: "t", data: { ok: 1 } },
          { id: "b", type: "t", data: data as never },
        ],
      });
      const bytes = toBinary(RecordEventsRequestSchema, req);
      expect(preparedOf(decodeRecordRequest(bytes).events[0]!)).toBeUndefined();
      expect(sameStored(bytes)).toBe("refused");
    }
  });

  it("encodes a segment mixing prepared events and object ones (a group commit's) as the object path", () => {
    const one = benchBatch(200, 3);
    const two = benchBatch(200, 4);
    const validated = (req: RecordEventsRequest) => validateRecord(req, DEFAULT_LIMITS, 0);
    const mixed = [...validated(decodeRecordRequest(one)), ...validated(library(two))];
    const plain = [...validated(library(one)), ...validated(library(two))];
    expect(mixed[0]!.prepared).toBeDefined();
    expect(encodeSegment(mixed, 1)).toEqual(encodeSegment(plain, 1));
    const interleaved = [...validated(library(two)), ...validated(decodeRecordRequest(one))];
    expect(encodeSegment(interleaved, 1)).toEqual(encodeSegment(plain, 1));
  });
});

// ---------------------------------------------------------------- realistic data and speed

function benchBatch(count: number, seed: number) {
  const events = generateEvents(count, { seed });
  const req = create(RecordEventsRequestSchema, {
    module: "mod-disco",
    events: events.map(toEventInit),
  });
  return toBinary(RecordEventsRequestSchema, req);
}

function eventsPerSecond(decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array, events: number): number {
  for (let i = 0; i < 20; i++) decode(bytes);
  const rates: number[] = [];
  for (let round = 0; round < 5; round++) {
    let runs = 0;
    const start = performance.now();
    while (performance.now() - start < 150) {
      decode(bytes);
      runs++;
    }
    rates.push((runs * events * 1000) / (performance.now() - start));
  }
  return rates.sort((a, b) => a - b)[2]!;
}

describe("decodeRecordRequest on realistic batches", () => {
  it("gives what the library gives, and what validateRecord stores from it", () => {
    const bytes = benchBatch(1_000, 7);
    expect(agree(bytes).ok).toBe(true);
    const req = decodeRecordRequest(bytes);
    expect(req.events.every((e) => preparedOf(e) !== undefined)).toBe(true);
    const ours = stored(req);
    expect(ours).toEqual(stored(library(bytes)));
    expect(ours).toHaveLength(1_000);
    expect(encodeSegment(validateRecord(req, DEFAULT_LIMITS, 0), 1)).toEqual(
      encodeSegment(validateRecord(library(bytes), DEFAULT_LIMITS, 0), 1),
    );
  });

  // A measurement, not a test: `TALLY_BENCH=1 npx vitest run functions/record-decoder` prints it.
  it.skipIf(!process.env.TALLY_BENCH)(
    "benchmark (printed, not asserted): events/s decoding a 1,000-event batch",
    () => {
      const bytes = benchBatch(1_000, 42);
      const theirs = eventsPerSecond(library, bytes, 1_000);
      const ours = eventsPerSecond(decodeRecordRequest, bytes, 1_000);
      console.log(
        `[bench] RecordEventsRequest, 1,000 events, ${bytes.length} bytes: fromBinary ${Math.round(theirs / 1000)} k events/s, ` +
          `decodeRecordRequest ${Math.round(ours / 1000)} k events/s (${(ours / theirs).toFixed(1)}×)`,
      );
      expect(ours).toBeGreaterThan(0);
    },
  );
});
