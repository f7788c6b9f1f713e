/**
 * The RecordEvents fast path answers exactly as the Connect handler does: two apps over two equal stores,
 * one with the fast path in front and one without, get the same requests — through a real Connect client
 * (binary) and by hand (gzip, limits, headers, errors) — and must give the same responses and end up
 * storing the same events. Bytes that are not a RecordEventsRequest are `invalid_argument` on both (the
 * generic path through parse-errors.ts, which maps connect-es's `internal` "parse binary"); only the
 * message's wording differs.
 */
import type { AddressInfo } from "node:net";
import { Worker } from "node:worker_threads";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { serve } from "@hono/node-server";
import { gunzipSync, gzipSync } from "fflate";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  Interval,
  Order,
  RecordEventsRequestSchema,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { generateEvents } from "../scripts/bench-data.ts";
import { createApp } from "./app.ts";
import { type KeyEntry, sha256Hex } from "./auth.ts";
import { RECORD_EVENTS_PATH, recordFastPath } from "./record-fast-path.ts";
import type { ServiceDeps } from "./service.ts";
import { testDeps } from "./test-deps.ts";

const NOW = Date.UTC(2026, 3, 1);
const T0 = Date.UTC(2026, 2, 1);
type Options = Parameters<typeof testDeps>[0];
type RecordInit = MessageInitShape<typeof RecordEventsRequestSchema>;

/** The app with the fast path in front, and how many requests the fast path answered itself. */
function fastApp(deps: ServiceDeps) {
  const fastPath = recordFastPath(deps);
  const app = new Hono();
  const counter = { served: 0 };
  app.use(async (c, next) => {
    let passed = false;
    const res = await fastPath(c, async () => {
      passed = true;
      await next();
    });
    if (!passed) counter.served++;
    return res;
  });
  app.route("/", createApp(deps, { recordFastPath: false }));
  return { app, counter };
}

/** Two apps over two fresh, equal stores: `fast` with the fast path, `plain` without. */
function pair(options: Options = {}) {
  const { app: fast, counter } = fastApp(testDeps({ now: () => NOW, ...options }));
  const plain = createApp(testDeps({ now: () => NOW, ...options }), { recordFastPath: false });
  return { fast, plain, counter };
}

function client(app: Hono, headers: Record<string, string> = {}) {
  const transport = createConnectTransport({
    baseUrl: "http://tally.test",
    useBinaryFormat: true,
    fetch: async (input, init) => app.request(input instanceof Request ? input : String(input), init),
    interceptors: [
      (next) => async (req) => {
        for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
        return next(req);
      },
    ],
  });
  return createClient(TelemetryService, transport);
}

type Called<T> =
  | { ok: true; value: T }
  | { ok: false; code: Code; message: string; metadata: [string, string][] };
async function called<T>(call: () => Promise<T>): Promise<Called<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (e) {
    const err = ConnectError.from(e);
    return { ok: false, code: err.code, message: err.rawMessage, metadata: [...err.metadata.entries()] };
  }
}

/** The same RecordEvents call through a Connect client on both apps: equal outcomes, returned once. */
async function recordOnBoth(
  p: ReturnType<typeof pair>,
  req: RecordInit,
  headers: Record<string, string> = {},
) {
  const before = p.counter.served;
  const fast = await called(() => client(p.fast, headers).recordEvents(req));
  const plain = await called(() => client(p.plain, headers).recordEvents(req));
  expect(p.counter.served).toBe(before + 1);
  expect(fast).toEqual(plain);
  return fast;
}

type Raw = { status: number; headers: [string, string][]; body: Uint8Array };
async function raw(app: Hono, path: string, init: RequestInit): Promise<Raw> {
  const res = await app.request(path, init);
  return {
    status: res.status,
    headers: [...res.headers.entries()],
    body: new Uint8Array(await res.arrayBuffer()),
  };
}

/** The same hand-made request on both apps: equal status, headers and body bytes. */
async function rawOnBoth(
  p: ReturnType<typeof pair>,
  init: RequestInit | (() => RequestInit),
  served = true,
  path = RECORD_EVENTS_PATH,
) {
  const before = p.counter.served;
  const fast = await raw(p.fast, path, typeof init === "function" ? init() : init);
  const plain = await raw(p.plain, path, typeof init === "function" ? init() : init);
  expect(p.counter.served).toBe(before + (served ? 1 : 0));
  expect(fast).toEqual(plain);
  return fast;
}

const errorJson = (r: Raw) =>
  JSON.parse(new TextDecoder().decode(r.body)) as { code: string; message?: string };
const binary = (req: RecordInit) =>
  toBinary(RecordEventsRequestSchema, create(RecordEventsRequestSchema, req));
const proto = (extra: Record<string, string> = {}) => ({ "content-type": "application/proto", ...extra });

const good = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({
    id: `e${from + i}`,
    type: i % 3 ? "enrolled" : "user.joined",
    time: timestampFromMs(T0 + (from + i) * 3_600_000),
    data: { org: `org-${i % 4}`, n: i, nested: { list: [1, "two", null, true, { x: -0 }] } },
    ...(i % 2 ? { location: { lat: 52.5 + i / 1000, lon: 13.4 } } : {}),
  }));

function realistic(count: number, seed: number): RecordInit {
  return {
    module: "mod-disco",
    events: generateEvents(count, { seed }).map((e) => ({
      id: `${seed}-${e.id}`,
      type: e.type,
      time: timestampFromMs(e.time),
      data: e.data,
      ...(Number.isNaN(e.lat) ? {} : { location: { lat: e.lat, lon: e.lon } }),
    })),
  };
}

/** What both stores hold, read back through the (regular) query RPCs. */
async function stored(app: Hono, module: string, headers: Record<string, string> = {}) {
  const c = client(app, headers);
  const range = { start: timestampFromMs(Date.UTC(2020, 0, 1)), end: timestampFromMs(Date.UTC(2030, 0, 1)) };
  const series = await c.querySeries({ module, range, interval: Interval.TOTAL, groupBy: ["type", "org"] });
  const events = [];
  let pageToken = "";
  do {
    const page = await c.listEvents({ module, range, order: Order.ASC, pageSize: 1_000, pageToken });
    events.push(...page.events);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return { rows: series.rows, events };
}

describe("the RecordEvents fast path answers like the Connect handler", () => {
  it("records batches, counts duplicates (across and within batches) and stores the same events", async () => {
    const p = pair();
    const batches: RecordInit[] = [
      { module: "mod-disco", events: good(10) },
      { module: "mod-disco", events: good(10) },
      { module: "mod-disco", events: [...good(5, 8), ...good(2, 20), ...good(1, 20)] },
      { module: "mod-disco", events: [{ type: "no.id.no.time", data: { a: 1 } }] },
      realistic(500, 1),
      realistic(500, 1),
      { module: "sys-account", events: good(3) },
    ];
    const results = [];
    for (const batch of batches) results.push(await recordOnBoth(p, batch));
    expect(results.map((r) => (r.ok ? [r.value.accepted, r.value.duplicates] : r))).toEqual([
      [10, 0],
      [0, 10],
      [5, 3],
      [1, 0],
      [500, 0],
      [0, 500],
      [3, 0],
    ]);
    for (const module of ["mod-disco", "sys-account"]) {
      const fast = await stored(p.fast, module);
      const plain = await stored(p.plain, module);
      expect(fast.rows).toEqual(plain.rows);
      // Events recorded without an id get random server ids: compare them without.
      const noIds = (events: typeof fast.events) =>
        events.map((e) => (e.type === "no.id.no.time" ? { ...e, id: "" } : e));
      expect(noIds(fast.events)).toEqual(noIds(plain.events));
    }
    expect((await stored(p.fast, "mod-disco")).events).toHaveLength(10 + 5 + 1 + 500);
  });

  it("keeps an id as sent over Connect JSON and binary, fast path or not, so a retry over either is a duplicate", async () => {
    // U+FEFF first: a plain TextDecoder drops it, so binary requests read "\ufeffa" as "a".
    const events = ["\ufeffa", "a", "\ufeff"].map((id, i) => ({
      id,
      type: "retried",
      time: timestampFromMs(T0 + i),
    }));
    const app = createApp(testDeps({ now: () => NOW }));
    const json = createClient(
      TelemetryService,
      createConnectTransport({
        baseUrl: "http://tally.test",
        useBinaryFormat: false,
        fetch: async (input, init) => app.request(input instanceof Request ? input : String(input), init),
      }),
    );
    const plain = createApp(testDeps({ now: () => NOW }), { recordFastPath: false });
    expect(await json.recordEvents({ module: "mod-disco", events })).toMatchObject({
      accepted: 3,
      duplicates: 0,
    });
    expect(await client(app).recordEvents({ module: "mod-disco", events })).toMatchObject({
      accepted: 0,
      duplicates: 3,
    });
    expect(await client(plain).recordEvents({ module: "mod-disco", events })).toMatchObject({
      accepted: 3,
      duplicates: 0,
    });
    const listed = await json.listEvents({
      module: "mod-disco",
      range: { start: timestampFromMs(T0), end: timestampFromMs(T0 + 10) },
    });
    expect(listed.events.map((e) => e.id)).toEqual(["\ufeffa", "a", "\ufeff"]);
    expect(
      (
        await client(plain).listEvents({
          module: "mod-disco",
          range: { start: timestampFromMs(T0), end: timestampFromMs(T0 + 10) },
        })
      ).events.map((e) => e.id),
    ).toEqual(["\ufeffa", "a", "\ufeff"]);
  });

  it("refuses invalid batches with the same code and message, and stores nothing of them", async () => {
    const p = pair({ limits: { maxEventsPerBatch: 20 } });
    const cases: [RecordInit, Code, RegExp][] = [
      [
        { module: "mod-disco", events: [...good(3), { id: "x", data: {} }] },
        Code.InvalidArgument,
        /^events\[3\]\.type: required$/,
      ],
      [
        { module: "mod-disco", events: [...good(2), { type: "x", location: { lat: 91, lon: 0 } }] },
        Code.InvalidArgument,
        /^events\[2\]\.location\.lat: 91 is outside -90\.\.90$/,
      ],
      [
        { module: "mod-disco", events: [{ type: "x", location: { lat: Number.NaN, lon: 0 } }] },
        Code.InvalidArgument,
        /^events\[0\]\.location\.lat: NaN/,
      ],
      [
        { module: "mod-disco", events: [{ type: "x", data: { n: Number.POSITIVE_INFINITY } }] },
        Code.InvalidArgument,
        /^events\[0\]\.data\.n: Infinity is not a finite number$/,
      ],
      [
        { module: "mod-disco", events: [{ type: "x", time: { seconds: -1n, nanos: 0 } }] },
        Code.InvalidArgument,
        /^events\[0\]\.time: must lie between/,
      ],
      [
        { module: "mod-disco", events: [{ type: "x", time: { seconds: 1n, nanos: -1 } }] },
        Code.InvalidArgument,
        /^events\[0\]\.time: nanos -1 is outside/,
      ],
      [{ module: "Mod", events: good(1) }, Code.InvalidArgument, /^module: "Mod" must match/],
      [{ module: "", events: good(1) }, Code.InvalidArgument, /^module: required/],
      [{ module: "mod-disco", events: [] }, Code.InvalidArgument, /^events: at least one event/],
      [{ module: "mod-disco", events: good(21) }, Code.InvalidArgument, /^events: 21 events; at most 20/],
    ];
    for (const [req, code, message] of cases) {
      const r = await recordOnBoth(p, req);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.code).toBe(code);
        expect(r.message).toMatch(message);
      }
    }
    expect((await stored(p.fast, "mod-disco")).events).toEqual([]);
    expect((await stored(p.plain, "mod-disco")).events).toEqual([]);
  });

  it("authorizes like the service: unauthenticated, unknown key, missing scope", async () => {
    const ingestKey = "tally_ingest_key";
    const readKey = "tally_read_key";
    const keys: KeyEntry[] = [
      { hash: await sha256Hex(ingestKey), tenant: "acme", scopes: ["ingest", "read"] },
      { hash: await sha256Hex(readKey), tenant: "acme", scopes: ["read"] },
    ];
    const p = pair({ keys });
    const req = { module: "mod-disco", events: good(4) };
    const none = await recordOnBoth(p, req);
    expect(none).toMatchObject({ ok: false, code: Code.Unauthenticated, message: /missing API key/ });
    const unknown = await recordOnBoth(p, req, { authorization: "Bearer nope" });
    expect(unknown).toMatchObject({ ok: false, code: Code.Unauthenticated, message: "unknown API key" });
    const readOnly = await recordOnBoth(p, req, { authorization: `Bearer ${readKey}` });
    expect(readOnly).toMatchObject({
      ok: false,
      code: Code.PermissionDenied,
      message: /lacks the `ingest` scope/,
    });
    const ok = await recordOnBoth(p, req, { authorization: `Bearer ${ingestKey}` });
    expect(ok).toMatchObject({ ok: true, value: { accepted: 4, duplicates: 0 } });
    const auth = { authorization: `Bearer ${readKey}` };
    expect(await stored(p.fast, "mod-disco", auth)).toEqual(await stored(p.plain, "mod-disco", auth));
    const bare = await rawOnBoth(p, { method: "POST", headers: proto(), body: binary(req) });
    expect(bare.status).toBe(401);
    expect(errorJson(bare)).toEqual({
      code: "unauthenticated",
      message: "missing API key: send `Authorization: Bearer <key>`",
    });
  });

  it("gives byte-identical HTTP responses to hand-made requests", async () => {
    const p = pair();
    const body = binary({ module: "mod-disco", events: good(30) });
    // With and without Connect-Protocol-Version, a timeout, an explicit identity encoding, odd case.
    const ok = await rawOnBoth(p, { method: "POST", headers: proto(), body });
    expect(ok.status).toBe(200);
    expect(ok.headers).toEqual([
      ["content-length", String(ok.body.length)],
      ["content-type", "application/proto"],
    ]);
    await rawOnBoth(p, { method: "POST", headers: proto({ "connect-protocol-version": "1" }), body });
    await rawOnBoth(p, { method: "POST", headers: proto({ "connect-protocol-version": "2" }), body });
    await rawOnBoth(p, { method: "POST", headers: proto({ "connect-timeout-ms": "5000" }), body });
    await rawOnBoth(p, { method: "POST", headers: proto({ "content-encoding": "identity" }), body });
    await rawOnBoth(p, { method: "POST", headers: { "content-type": "Application/PROTO" }, body });
    await rawOnBoth(p, { method: "POST", headers: proto({ "accept-encoding": "gzip, br" }), body });
    // An empty body is an empty request.
    const empty = await rawOnBoth(p, { method: "POST", headers: proto() });
    expect(errorJson(empty)).toEqual({
      code: "invalid_argument",
      message: 'module: required (e.g. "mod-disco")',
    });
    // Protocol errors.
    const badTimeout = await rawOnBoth(p, {
      method: "POST",
      headers: proto({ "connect-timeout-ms": "soon" }),
      body,
    });
    expect(errorJson(badTimeout)).toEqual({
      code: "invalid_argument",
      message: "protocol error: invalid connect timeout value: soon",
    });
    const longTimeout = await rawOnBoth(p, {
      method: "POST",
      headers: proto({ "connect-timeout-ms": "999999" }),
      body,
    });
    expect(errorJson(longTimeout).code).toBe("invalid_argument");
    const br = await rawOnBoth(p, { method: "POST", headers: proto({ "content-encoding": "br" }), body });
    expect(br.status).toBe(501);
    expect(br.headers).toContainEqual(["accept-encoding", "gzip"]);
    expect(errorJson(br)).toEqual({
      code: "unimplemented",
      message: 'unknown compression "br": supported encodings are gzip',
    });
    // Requests the fast path leaves to the router.
    await rawOnBoth(p, { method: "GET", headers: proto() }, false);
    await rawOnBoth(
      p,
      { method: "POST", headers: { "content-type": "application/proto; charset=utf-8" }, body },
      false,
    );
    await rawOnBoth(
      p,
      { method: "POST", headers: { "content-type": "application/connect+proto" }, body },
      false,
    );
    await rawOnBoth(
      p,
      { method: "POST", headers: { "content-type": "application/grpc-web+proto" }, body },
      false,
    );
    await rawOnBoth(p, { method: "POST", body }, false);
    await rawOnBoth(
      p,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ module: "mod-disco", events: [{ id: "j1", type: "json.event" }] }),
      },
      false,
    );
    await rawOnBoth(
      p,
      { method: "POST", headers: proto(), body },
      false,
      "/telemetry.v1.TelemetryService/QueryGeo",
    );
    expect(await stored(p.fast, "mod-disco")).toEqual(await stored(p.plain, "mod-disco"));
  });

  it("reads gzip bodies, and refuses bombs, bad gzip and oversized bodies", async () => {
    const p = pair({ limits: { maxRequestBytes: 256 * 1024 } });
    const body = binary(realistic(200, 2));
    const gz = await rawOnBoth(p, {
      method: "POST",
      headers: proto({ "content-encoding": "gzip", "accept-encoding": "gzip" }),
      body: gzipSync(body),
    });
    expect(gz.status).toBe(200);
    const bomb = await rawOnBoth(p, {
      method: "POST",
      headers: proto({ "content-encoding": "gzip" }),
      body: gzipSync(new Uint8Array(16 * 1024 * 1024)),
    });
    expect(bomb.status).toBe(429);
    expect(errorJson(bomb)).toEqual({
      code: "resource_exhausted",
      message: `message is larger than ${256 * 1024} bytes after decompression`,
    });
    // A response of 1 KiB or more is gzipped for a client that accepts it (here an error naming a long key).
    // gzip headers carry the time, so compare the bodies decompressed.
    const init = () => ({
      method: "POST",
      headers: proto({ "accept-encoding": "gzip" }),
      body: binary({ module: "mod-disco", events: [{ type: "x", data: { ["k".repeat(2000)]: Infinity } }] }),
    });
    const [zipped, zippedPlain] = [
      await raw(p.fast, RECORD_EVENTS_PATH, init()),
      await raw(p.plain, RECORD_EVENTS_PATH, init()),
    ];
    expect(zipped.headers).toEqual(zippedPlain.headers);
    expect(zipped.headers).toContainEqual(["content-encoding", "gzip"]);
    expect(gunzipSync(zipped.body)).toEqual(gunzipSync(zippedPlain.body));
    expect(JSON.parse(new TextDecoder().decode(gunzipSync(zipped.body)))).toMatchObject({
      code: "invalid_argument",
    });
    const badGzip = await rawOnBoth(p, {
      method: "POST",
      headers: proto({ "content-encoding": "gzip" }),
      body: body.subarray(0, 100),
    });
    expect(errorJson(badGzip).code).toBe("invalid_argument");
    expect(errorJson(badGzip).message).toMatch(/^gzip: invalid compressed message/);
    const big = new Uint8Array(256 * 1024 + 1);
    const tooBig = await rawOnBoth(p, { method: "POST", headers: proto(), body: big });
    expect(tooBig.status).toBe(429);
    expect(errorJson(tooBig)).toEqual({
      code: "resource_exhausted",
      message: `message size is larger than configured readMaxBytes ${256 * 1024}`,
    });
    const declared = await rawOnBoth(p, {
      method: "POST",
      headers: proto({ "content-length": String(big.length) }),
      body: big,
    });
    expect(errorJson(declared)).toEqual({
      code: "resource_exhausted",
      message: `message size ${big.length} is larger than configured readMaxBytes ${256 * 1024}`,
    });
    const streamed = (bytes: Uint8Array) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 10_000) controller.enqueue(bytes.slice(at, at + 10_000));
          controller.close();
        },
      });
    const chunked = await rawOnBoth(p, () => ({
      method: "POST",
      headers: proto(),
      body: streamed(body),
      duplex: "half",
    }));
    expect(chunked.status).toBe(200);
    expect(await stored(p.fast, "mod-disco")).toEqual(await stored(p.plain, "mod-disco"));
  });

  it("answers bytes that are not a RecordEventsRequest with invalid_argument, as the generic path does", async () => {
    const p = pair();
    const valid = binary({ module: "mod-disco", events: good(3) });
    const garbage = [
      new Uint8Array([0xff, 0xff, 0xff]),
      valid.subarray(0, valid.length - 3),
      new Uint8Array([0x0a, 0x02, 0xc3, 0x28]), // invalid UTF-8 in module
      new TextEncoder().encode('{"module":"mod-disco"}'),
    ];
    for (const body of garbage) {
      const before = p.counter.served;
      const fast = await raw(p.fast, RECORD_EVENTS_PATH, { method: "POST", headers: proto(), body });
      const plain = await raw(p.plain, RECORD_EVENTS_PATH, { method: "POST", headers: proto(), body });
      expect(p.counter.served).toBe(before + 1);
      expect(fast.status).toBe(400);
      expect(errorJson(fast).code).toBe("invalid_argument");
      expect(errorJson(fast).message).toMatch(/^events: cannot decode request: /);
      expect(plain.status).toBe(400);
      expect(errorJson(plain)).toMatchObject({
        code: "invalid_argument",
        message: expect.stringMatching(/^cannot decode request: /),
      });
    }
    const r = await called(() => client(p.fast).recordEvents({ module: "mod-disco", events: good(1) }));
    expect(r).toMatchObject({ ok: true, value: { accepted: 1 } });
  });
});

// ---------------------------------------------------------------- end-to-end speed over HTTP

/** Posts every body over HTTP from a worker thread (so the client does not share the server's core). */
const CLIENT = `
const { parentPort, workerData } = require("node:worker_threads");
const { url, bodies, concurrency } = workerData;
const post = async (body) => {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
    body,
  });
  const bytes = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(res.status + " " + Buffer.from(bytes).toString());
};
(async () => {
  for (const body of bodies.slice(0, 3)) await post(body);
  let next = 3;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) await post(bodies[next++]);
  }));
  parentPort.postMessage({ ms: performance.now() - start, batches: bodies.length - 3 });
})().catch((e) => parentPort.postMessage({ error: String(e) }));
`;

/** Events/s recording `bodies` (1,000 events each) into `app` over HTTP/1.1 through @hono/node-server. */
async function ingestRate(app: Hono, bodies: Uint8Array[], concurrency: number): Promise<number> {
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}${RECORD_EVENTS_PATH}`;
  try {
    const worker = new Worker(CLIENT, { eval: true, workerData: { url, bodies, concurrency } });
    const result = await new Promise<{ ms: number; batches: number; error?: string }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    if (result.error) throw new Error(result.error);
    return (result.batches * 1_000 * 1_000) / result.ms;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Deps whose store accepts every batch without storing it: what ingest costs before the store. */
function storeless(): ServiceDeps {
  const deps = testDeps();
  deps.store.record = async (_tenant, _module, events) => ({ accepted: events.length, duplicates: 0 });
  return deps;
}

describe("ingest over HTTP", () => {
  // A measurement, not a test: `TALLY_BENCH=1 npx vitest run functions/record-fast-path` prints it.
  it.skipIf(!process.env.TALLY_BENCH)(
    "benchmark (printed, not asserted): events/s of 1,000-event binary batches, end to end",
    async () => {
      // Live ingest: each batch covers the next 10 minutes.
      const bodies = Array.from({ length: 40 }, (_, i) => {
        const start = T0 + i * 600_000;
        const events = generateEvents(1_000, { seed: 100 + i, start, end: start + 600_000 });
        return binary({
          module: "mod-disco",
          events: events.map((e) => ({
            id: `${i}-${e.id}`,
            type: e.type,
            time: timestampFromMs(e.time),
            data: e.data,
            ...(Number.isNaN(e.lat) ? {} : { location: { lat: e.lat, lon: e.lon } }),
          })),
        });
      });
      const lines = [];
      for (const [label, deps] of [
        ["memory store", testDeps],
        ["store.record stubbed out", storeless],
      ] as const) {
        for (const concurrency of [1, 4]) {
          const plain = await ingestRate(createApp(deps(), { recordFastPath: false }), bodies, concurrency);
          const fast = await ingestRate(fastApp(deps()).app, bodies, concurrency);
          lines.push(
            `${label}, ${concurrency} in flight: Connect handler ${Math.round(plain / 1000)} k events/s, ` +
              `fast path ${Math.round(fast / 1000)} k events/s (${(fast / plain).toFixed(1)}×)`,
          );
        }
      }
      console.log(
        `[bench] RecordEvents over HTTP/1.1 (@hono/node-server), 1,000-event batches:\n  ${lines.join("\n  ")}`,
      );
    },
  );
});
