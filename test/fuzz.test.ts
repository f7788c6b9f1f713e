/**
 * Fuzzing every RPC (issue #7, suite 4), seeded: fast-check builds requests — well-formed ones with hostile
 * values (wrong types, huge and deeply nested values, lone surrogates, NUL, look-alike and path-like
 * module and field names, garbage page tokens), mutated and random bytes, gzip bombs and bodies over the
 * limit — and sends them to a real server process in Connect JSON, Connect binary and gRPC-web. Every
 * answer must carry a defined Connect code other than `internal` and `unknown`; the server must log no
 * unexpected error, stay up (health check, then a normal record-and-query), and keep its memory bounded.
 * The segment decoder's own fuzzing is in store/segment-format.test.ts.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type DescMessage, fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CompactRequestSchema,
  CreateExportLinkRequestSchema,
  CreateKeyRequestSchema,
  DeleteDataRequestSchema,
  ExportCsvRequestSchema,
  ListEventsRequestSchema,
  ListKeysRequestSchema,
  QueryGeoRequestSchema,
  QuerySeriesRequestSchema,
  RecordEventsRequestSchema,
  RevokeKeyRequestSchema,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { CODES, envelope, type Sent, send, type Wire } from "./fuzz-wire.ts";
import { bundleServer, type ServerProcess, startServer } from "./server-process.ts";

const MAX_REQUEST = 1024 * 1024;
const sha256 = (key: string) => createHash("sha256").update(key).digest("hex");
/**
 * Every scope, so that each RPC gets past authorisation. The key RPCs and DeleteData act for a tenant of
 * their own: keys they create end no open mode, and a deletion leaves the data the queries scan.
 */
const KEY = "fuzz-key";
const ADMIN_KEY = "fuzz-admin-key";
const ADMIN_RPCS = new Set(["CreateKey", "ListKeys", "RevokeKey", "DeleteData"]);
const KEYS = [
  { name: "fuzz", hash: sha256(KEY), tenant: "fuzz", scopes: ["ingest", "read", "admin"] },
  { name: "fuzz-admin", hash: sha256(ADMIN_KEY), tenant: "fuzz-admin", scopes: ["ingest", "read", "admin"] },
];
const keyFor = (method: string) => (ADMIN_RPCS.has(method) ? ADMIN_KEY : KEY);
const dir = mkdtempSync(join(tmpdir(), "tally-fuzz-"));
let server: ServerProcess;
beforeAll(async () => {
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ keys: KEYS, limits: { maxRequestBytes: MAX_REQUEST } }),
  );
  server = await startServer(
    { DATA_DIR: join(dir, "data"), TALLY_CONFIG: join(dir, "config.json"), TALLY_SECRET: "fuzz" },
    { entry: await bundleServer() },
  );
  // Something to query, so that queries reach the scan and not only validation.
  await send(server.url, {
    wire: "connect-json",
    method: "RecordEvents",
    streaming: false,
    body: new TextEncoder().encode(JSON.stringify(VALID.RecordEvents)),
    key: KEY,
  });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const RANGE = { start: "2026-06-01T00:00:00Z", end: "2026-06-08T00:00:00Z" };
const FILTER = { field: "k", op: "OPERATOR_EQ", values: [1] };
const SERIES = {
  module: "mod-fuzz",
  range: RANGE,
  interval: "INTERVAL_DAY",
  timeZone: "Europe/Berlin",
  filters: [FILTER],
  groupBy: ["type"],
  aggregation: { function: "AGGREGATION_FUNCTION_SUM", field: "k" },
  pageSize: 10,
};
const GEO = {
  module: "mod-fuzz",
  range: RANGE,
  cellDegrees: 1,
  minCount: 1,
  geo: { box: { south: -10, west: -10, north: 10, east: 10 } },
};
const LIST = { module: "mod-fuzz", range: RANGE, order: "ORDER_DESC", pageSize: 5, filters: [FILTER] };
/** A valid request of every RPC, in JSON; the fuzzer replaces parts of them. */
const VALID: Record<string, Record<string, JsonValue>> = {
  RecordEvents: {
    module: "mod-fuzz",
    events: Array.from({ length: 30 }, (_, i) => ({
      id: `e${i}`,
      type: i % 2 ? "a" : "b",
      time: `2026-06-0${1 + (i % 7)}T10:00:00Z`,
      data: { k: i % 3, s: `v${i}`, arr: [i, { x: "y" }] },
      location: { lat: i % 10, lon: -(i % 10) },
    })),
  },
  QuerySeries: SERIES,
  QueryGeo: GEO,
  ListEvents: LIST,
  ExportCsv: { events: LIST, bom: true, columns: ["id", "k"] },
  CreateExportLink: { series: SERIES },
  Compact: { module: "mod-fuzz", range: RANGE },
  CreateKey: { name: "fuzzed", scopes: ["ingest", "read"], minGeoCount: 3 },
  ListKeys: { includeRevoked: true },
  RevokeKey: { id: "0123456789abcdef" },
  DeleteData: { module: "mod-fuzz-gone" },
};
const SCHEMAS: Record<string, DescMessage> = {
  RecordEvents: RecordEventsRequestSchema,
  QuerySeries: QuerySeriesRequestSchema,
  QueryGeo: QueryGeoRequestSchema,
  ListEvents: ListEventsRequestSchema,
  ExportCsv: ExportCsvRequestSchema,
  CreateExportLink: CreateExportLinkRequestSchema,
  Compact: CompactRequestSchema,
  CreateKey: CreateKeyRequestSchema,
  ListKeys: ListKeysRequestSchema,
  RevokeKey: RevokeKeyRequestSchema,
  DeleteData: DeleteDataRequestSchema,
};
const METHODS = Object.keys(VALID);
/** 64 MiB of zeros in ~64 KiB of gzip. */
const BOMB = gzipSync(new Uint8Array(64 * 1024 * 1024));
const RUNS = 800;

// ------------------------------------------------------------------ hostile values

const hostileString = fc.oneof(
  fc.constantFrom(
    "",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udfffy",
    "..",
    "../../etc/passwd",
    "a:b",
    "a/b",
    "a?b",
    "a$",
    "Mod-Fuzz",
    "mod-fuzz ",
    "mod_fuzz",
    "mod-fuzz\n",
    "mod-fuzż",
    "__proto__",
    "constructor",
    "prototype",
    "toString",
    "a..b",
    ".a",
    "a.",
    "k.",
    "type",
    "ev",
    "v1",
    "%00",
    "\u202e",
    "x".repeat(300),
    "INTERVAL_DAY",
    "9999-99-99T99:99:99Z",
    "1970-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "-000001-01-01T00:00:00Z",
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: fc.constantFrom("\ud800", "\udc00", "\u0000", "a", ".", ":", "é"), maxLength: 20 }),
  fc.nat({ max: 200_000 }).map((n) => "y".repeat(n)),
);
const hugeOrDeep: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.nat({ max: 1_500 }).map((d) => {
    let v: JsonValue = 1;
    for (let i = 0; i < d; i++) v = i % 2 ? [v] : { a: v };
    return v;
  }),
  fc.nat({ max: 50_000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
  fc.nat({ max: 5_000 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
);
const hostileValue: fc.Arbitrary<JsonValue> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  {
    weight: 3,
    arbitrary: fc.constantFrom<JsonValue>(
      null,
      true,
      0,
      -1,
      1.5,
      2 ** 31,
      -(2 ** 31) - 1,
      2 ** 53 + 1,
      1e308,
      "NaN",
      "Infinity",
      "-Infinity",
      [],
      {},
      [null],
      { "": 1 },
    ),
  },
  { weight: 1, arbitrary: hugeOrDeep },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue> },
);

/** Every path to a value inside `v`, as key lists. */
function paths(v: JsonValue, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) {
    for (const [i, x] of v.slice(0, 3).entries()) out.push(...paths(x, [...prefix, i]));
  } else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) out.push(...paths(x as JsonValue, [...prefix, k]));
  return out;
}

function replaced(v: JsonValue, path: (string | number)[], by: JsonValue | undefined): JsonValue {
  if (path.length === 0) return by ?? null;
  const [head, ...rest] = path;
  const copy = (Array.isArray(v) ? [...v] : { ...(v as object) }) as Record<string | number, JsonValue>;
  if (by === undefined && rest.length === 0) delete copy[head!];
  else copy[head!] = replaced(copy[head!] as JsonValue, rest, by);
  return copy as JsonValue;
}

/** A valid request with one to three of its parts replaced, removed, or given an extra hostile key. */
const mutatedJson = (method: string) => {
  const valid = VALID[method]!;
  const all = paths(valid);
  const edit = fc.tuple(
    fc.constantFrom(...all),
    fc.oneof(
      { weight: 6, arbitrary: hostileValue.map((v) => ({ set: v })) },
      { weight: 1, arbitrary: fc.constant({ remove: true }) },
      { weight: 1, arbitrary: hostileString.map((k) => ({ key: k })) },
    ),
  );
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) =>
    edits.reduce<JsonValue>((doc, [path, change]) => {
      if ("set" in change) return replaced(doc, path, change.set);
      if ("remove" in change) return path.length ? replaced(doc, path, undefined) : doc;
      const at = path.filter((p) => typeof p === "string");
      return replaced(doc, [...at, change.key], "x");
    }, valid),
  );
};

const pageToken = fc.oneof(
  fc.base64String({ maxLength: 300 }),
  fc.string({ maxLength: 100 }),
  fc.constantFrom("", "a.b.c", "eyJ9.e30.", "%%%", "=".repeat(500)),
);

/** One request: a wire, a method, a body; JSON or binary, mutated, random or hostile in size. */
const request: fc.Arbitrary<Sent> = fc
  .tuple(
    fc.constantFrom<Wire>("connect-json", "connect-proto", "grpc-web"),
    fc.constantFrom(...METHODS),
    fc.nat(),
  )
  .chain(([wire, method, pick]) => {
    const streaming = method === "ExportCsv";
    const schema = SCHEMAS[method]!;
    const base = { wire, method, streaming };
    const enc = new TextEncoder();
    const jsonOf = (doc: JsonValue) => enc.encode(JSON.stringify(doc));
    const binaryOf = (doc: JsonValue): Uint8Array | undefined => {
      try {
        return toBinary(schema, fromJson(schema, doc));
      } catch {
        return undefined;
      }
    };
    const validBinary = binaryOf(VALID[method]!)!;
    const bodies: fc.Arbitrary<Partial<Sent>>[] = [
      // A valid request with hostile parts: as JSON, or as binary when it still fits the schema.
      mutatedJson(method).map((doc) => {
        const binary = wire === "connect-json" ? undefined : binaryOf(doc);
        return { body: binary ?? jsonOf(doc), wire: binary ? wire : "connect-json" };
      }),
      // A garbage page token on a paged query.
      pageToken.map((token) => ({
        body: jsonOf({ ...VALID.QuerySeries!, pageToken: token }),
        method: "QuerySeries",
        streaming: false,
        wire: "connect-json" as Wire,
      })),
      // Random bytes, and valid binary truncated or with flipped bytes.
      fc.uint8Array({ maxLength: 2_000 }).map((body) => ({ body })),
      fc
        .tuple(
          fc.nat({ max: validBinary.length }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
        )
        .map(([cut, flips]) => {
          const body = validBinary.slice(0, Math.max(cut, 1));
          for (const [at, x] of flips) body[at % body.length]! ^= x;
          return { body, wire: wire === "connect-json" ? ("connect-proto" as Wire) : wire };
        }),
      // Nesting far deeper than any parser's stack, as JSON text (a value this deep cannot be built here).
      fc.integer({ min: 1_000, max: 200_000 }).map((n) => ({
        body: enc.encode(
          `{"module":"mod-fuzz","events":[{"type":"t","data":{"a":${"[".repeat(n)}${"]".repeat(n)}}}]}`,
        ),
        wire: "connect-json" as Wire,
        method: "RecordEvents",
        streaming: false,
      })),
      // JSON that is not JSON.
      fc.constantFrom("{", "[]", "null", '{"module":', "\u0000", '{"a":1}{"b":2}', "\ufeff{}").map((t) => ({
        body: enc.encode(t),
        wire: "connect-json" as Wire,
      })),
      // Compressed: a valid body, or a gzip bomb (64 MiB of zeros in ~64 KiB).
      fc.boolean().map((bomb) => ({
        // A bomb on gRPC-web and Connect streams is one compressed envelope; on unary, the body.
        body: bomb ? BOMB : wire === "connect-json" ? jsonOf(VALID[method]!) : validBinary,
        gzip: true,
        raw: bomb && !streaming && wire !== "grpc-web",
      })),
      // Over the size limit, uncompressed.
      fc.constant({ body: new Uint8Array(MAX_REQUEST + 1024).fill(0x20) }),
      // Envelopes that lie about their length, or end early.
      fc.tuple(fc.nat({ max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 64 })).map(([length, tail]) => {
        const head = envelope(new Uint8Array(0));
        new DataView(head.buffer).setUint32(1, length);
        return { body: new Uint8Array([...head, ...tail]), raw: streaming || wire === "grpc-web" };
      }),
    ];
    return bodies[pick % bodies.length]!.map((b) => ({ ...base, ...b }) as Sent);
  });

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

describe("fuzzing every RPC on every wire", () => {
  it("only defined Connect codes, never internal or unknown; the server stays up with bounded memory", {
    timeout: 180_000,
  }, async () => {
    const seen = new Map<string, number>();
    const seenMethods = new Set<string>();
    const before = rssMiB(server.child.pid!);
    let peak = before;
    await fc.assert(
      fc.asyncProperty(request, async (sent) => {
        const code = await send(server.url, { ...sent, key: keyFor(sent.method) });
        seenMethods.add(sent.method);
        seen.set(code, (seen.get(code) ?? 0) + 1);
        if (!(CODES as readonly string[]).includes(code) || code === "internal" || code === "unknown") {
          throw new Error(`${sent.wire} ${sent.method} answered ${code}`);
        }
        peak = Math.max(peak, rssMiB(server.child.pid!));
      }),
      { seed: 20261130, numRuns: RUNS },
    );
    const after = rssMiB(server.child.pid!);
    console.log(
      `[fuzz] ${RUNS} requests; codes ${JSON.stringify(Object.fromEntries(seen))}; RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} → ${after.toFixed(0)} MiB`,
    );
    expect(server.child.exitCode).toBe(null);
    expect(server.output()).not.toMatch(/unexpected error/);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    // Still serving normally.
    const ok = await send(server.url, {
      wire: "connect-json",
      method: "QuerySeries",
      streaming: false,
      body: new TextEncoder().encode(JSON.stringify(VALID.QuerySeries)),
      key: KEY,
    });
    expect(ok).toBe("ok");
    // Every RPC of the service was fuzzed (issue #7: "inputs to every RPC").
    expect([...seenMethods].sort()).toEqual(TelemetryService.methods.map((m) => m.name).sort());
    // Bounded: no request may hold on to memory; 64 MiB bombs must not be inflated.
    expect(peak).toBeLessThan(before + 300);
    expect(seen.get("ok") ?? 0).toBeGreaterThan(0);
    expect(seen.get("invalid_argument") ?? 0).toBeGreaterThan(100);
    expect(seen.get("resource_exhausted") ?? 0).toBeGreaterThan(0);
  });
});
