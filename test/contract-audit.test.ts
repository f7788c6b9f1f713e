/**
 * Issues #2 (the API) and #4 (CSV export, the CLI) read to the letter, against a real `npm start` server:
 * names and proto3 JSON forms, retry dedup, time-zone buckets across DST, field and filter semantics,
 * grouping, aggregation, QueryGeo cells, pagination, refusals naming their field on every wire, the three
 * CSV kinds and the download link, and the `tally` commands and flags the issue names. Each expectation is
 * worked out by hand from the sentences, not from Tally's code.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect as http2Connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, type ServerProcess, startServer } from "./server-process.ts";

type Json = Record<string, unknown>;
interface Row {
  bucketStart: string;
  group: string[];
  value: number;
}

let server: ServerProcess;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tally-contract-"));
  server = await startServer({ DATA_DIR: dataDir });
  await record("audit-sem", SEMANTIC_EVENTS);
});
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const SERVICE = "/telemetry.v1.TelemetryService";

/** A Connect JSON unary call, as curl sends it. */
async function call(method: string, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${server.url}${SERVICE}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

async function ok(method: string, body: unknown): Promise<Json> {
  const res = await call(method, body);
  if (res.status !== 200) throw new Error(`${method}: ${JSON.stringify(res.json)}`);
  return res.json;
}

const record = (module: string, events: unknown[]) => ok("RecordEvents", { module, events });

const envelope = (body: unknown, flags = 0) => {
  const bytes = Buffer.from(JSON.stringify(body));
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
};

/** Splits an enveloped body into its frames. */
function frames(body: Buffer): { flags: number; payload: Buffer }[] {
  const out: { flags: number; payload: Buffer }[] = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    out.push({ flags: body[at]!, payload: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

/** ExportCsv over the Connect streaming protocol in JSON: the CSV text and the end-stream frame. */
async function exportCsv(request: unknown): Promise<{ csv: string; end: Json }> {
  const res = await fetch(`${server.url}${SERVICE}/ExportCsv`, {
    method: "POST",
    headers: { "content-type": "application/connect+json" },
    body: envelope(request),
  });
  let csv = Buffer.alloc(0);
  let end: Json = {};
  for (const frame of frames(Buffer.from(await res.arrayBuffer()))) {
    const json = JSON.parse(frame.payload.toString()) as Json;
    if (frame.flags & 0x02) end = json;
    else csv = Buffer.concat([csv, Buffer.from(json.data as string, "base64")]);
  }
  return { csv: csv.toString("utf8"), end };
}

/** A gRPC (HTTP/2) call with a JSON message: the trailers' status and decoded message. */
async function grpcJson(method: string, body: unknown): Promise<{ status?: string; message: string }> {
  const session = http2Connect(server.url);
  try {
    const req = session.request({
      ":method": "POST",
      ":path": `${SERVICE}/${method}`,
      "content-type": "application/grpc+json",
      te: "trailers",
    });
    const result = new Promise<{ status?: string; message: string }>((resolve, reject) => {
      let headers: Record<string, unknown> = {};
      req.on("response", (h) => (headers = h));
      req.on("trailers", (t) => (headers = { ...headers, ...t }));
      req.on("data", () => {});
      req.on("end", () =>
        resolve({
          status: headers["grpc-status"] as string | undefined,
          message: decodeURIComponent(String(headers["grpc-message"] ?? "")),
        }),
      );
      req.on("error", reject);
    });
    req.end(envelope(body));
    return await result;
  } finally {
    session.close();
  }
}

const RANGE = { start: "2026-03-10T00:00:00Z", end: "2026-03-12T00:00:00Z" };

// Hand-made data for the semantics: arrays of objects, a number group value, events with and without a
// location, an event on each edge of RANGE (start counts, end does not).
const SEMANTIC_EVENTS = [
  {
    id: "e1",
    type: "enrolled",
    time: "2026-03-10T10:00:00Z",
    data: {
      org: "org-1",
      userId: "u1",
      supplies: [
        { name: "Childcare", value: 5 },
        { name: "Food", value: 2 },
      ],
      needs: ["Legal"],
      score: 1.5,
    },
    location: { lat: 52.52, lon: 13.405 },
  },
  {
    id: "e2",
    type: "enrolled",
    time: "2026-03-10T11:00:00Z",
    data: { org: "org-2", userId: "u1", supplies: [{ name: "childcare x", value: 10 }], score: 100 },
    location: { lat: 52.9, lon: 13.9 },
  },
  {
    id: "e3",
    type: "unenrolled",
    time: "2026-03-11T10:00:00Z",
    data: { org: "org-1", userId: "u2", n: 1e21 },
    location: { lat: -33.87, lon: 151.21 },
  },
  { id: "e4", type: "user.joined", time: "2026-03-10T00:00:00Z", data: {} },
  { id: "outside", type: "user.joined", time: "2026-03-12T00:00:00Z", data: { org: "org-1" } },
];

async function total(module: string, extra: Json = {}): Promise<number> {
  const res = await ok("QuerySeries", { module, range: RANGE, interval: "INTERVAL_TOTAL", ...extra });
  const rows = res.rows as Row[];
  expect(rows).toHaveLength(1);
  return rows[0]!.value;
}

const starts = (res: Json) => (res.rows as Row[]).map((r) => r.bucketStart);

describe("RecordEvents (issue #2)", () => {
  it("answers {accepted, duplicates} with zeros written out", async () => {
    const res = await call("RecordEvents", { module: "audit-json", events: [{ type: "x" }] });
    expect(res).toEqual({ status: 200, json: { accepted: 1, duplicates: 0 } });
  });

  it("same id and time in the same module is a duplicate, in a batch and on retry; nothing else is", async () => {
    const at = "2026-03-10T09:00:00Z";
    const first = [
      { id: "r1", type: "x", time: at },
      { id: "r1", type: "x", time: at },
      { id: "r1", type: "x", time: "2026-03-10T09:00:01Z" },
      { type: "x", time: at },
      { type: "x", time: at },
    ];
    expect(await record("audit-dedup", first)).toEqual({ accepted: 4, duplicates: 1 });
    // The retry of the whole batch: the three id'd events are duplicates, the id-less two are new.
    expect(await record("audit-dedup", first)).toEqual({ accepted: 2, duplicates: 3 });
    // The same id and time with other content is still the same event.
    expect(await record("audit-dedup", [{ id: "r1", type: "y", time: at, data: { a: 1 } }])).toEqual({
      accepted: 0,
      duplicates: 1,
    });
    expect(await total("audit-dedup")).toBe(6);
    // Another module is another store.
    expect(await record("audit-dedup-2", [{ id: "r1", type: "x", time: at }])).toEqual({
      accepted: 1,
      duplicates: 0,
    });
  });

  it("`time` defaults to the receive time, and every listed event has an id", async () => {
    const before = Date.now();
    await record("audit-now", [{ type: "now" }]);
    const after = Date.now();
    const res = await ok("ListEvents", {
      module: "audit-now",
      range: { start: new Date(before - 1000).toISOString(), end: new Date(after + 1000).toISOString() },
    });
    const [event] = res.events as { id: string; time: string }[];
    expect(event!.id).toMatch(/^\S+$/);
    expect(Date.parse(event!.time)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(event!.time)).toBeLessThanOrEqual(after);
  });
});

describe("bad input names its field on every wire (issue #2)", () => {
  const badTime = { module: "audit-bad", events: [{ type: "x" }, { type: "x", time: "yesterday" }] };
  const badOp = {
    module: "audit-bad",
    range: RANGE,
    filters: [{ field: "org", op: "OPERATOR_LIKE" }],
  };

  it("Connect JSON", async () => {
    const time = await call("RecordEvents", badTime);
    expect(time.status).toBe(400);
    expect(time.json).toEqual({
      code: "invalid_argument",
      message: expect.stringMatching(/^events\[1\]\.time: /),
    });
    const op = await call("QuerySeries", badOp);
    expect(op.json.message).toMatch(/^filters\[0\]\.op: /);
    const misspelt = await call("QuerySeries", {
      module: "audit-bad",
      range: RANGE,
      timezone: "Europe/Berlin",
    });
    expect(misspelt.json).toEqual({
      code: "invalid_argument",
      message: expect.stringMatching(/^timezone: /),
    });
    expect(await total("audit-bad")).toBe(0);
  });

  it("Connect streaming JSON (ExportCsv)", async () => {
    const { end } = await exportCsv({ series: badOp });
    expect(end.error).toEqual({
      code: "invalid_argument",
      message: expect.stringMatching(/^series\.filters\[0\]\.op: /),
    });
  });

  it("gRPC-web JSON", async () => {
    const res = await fetch(`${server.url}${SERVICE}/RecordEvents`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+json" },
      body: envelope(badTime),
    });
    const trailer = frames(Buffer.from(await res.arrayBuffer())).find((f) => f.flags & 0x80)!;
    const text = trailer.payload.toString();
    expect(text).toMatch(/grpc-status: 3\r\n/);
    expect(decodeURIComponent(/grpc-message: (\S*)/.exec(text)![1]!)).toMatch(/^events\[1\]\.time: /);
  });

  it("gRPC JSON", async () => {
    const res = await grpcJson("QuerySeries", badOp);
    expect(res.status).toBe("3");
    expect(res.message).toMatch(/^filters\[0\]\.op: /);
  });

  it.each<[string, Json, RegExp]>([
    ["an unknown time zone", { timeZone: "Mars/Base" }, /^timeZone: /],
    ["end ≤ start", { range: { start: RANGE.end, end: RANGE.start } }, /^range\.end: /],
    ["a bad field path", { groupBy: ["a..b"] }, /^groupBy\[0\]: /],
    ["a bad filter field", { filters: [{ field: "", op: "OPERATOR_EXISTS" }] }, /^filters\[0\]\.field: /],
    [
      "minute buckets over a century",
      { range: { start: "1971-01-01T00:00:00Z", end: "2071-01-01T00:00:00Z" }, interval: "INTERVAL_MINUTE" },
      /^interval: /,
    ],
  ])("QuerySeries refuses %s", async (_, extra, message) => {
    const res = await call("QuerySeries", { module: "audit-bad", range: RANGE, ...extra });
    expect(res.json).toEqual({ code: "invalid_argument", message: expect.stringMatching(message) });
  });
});

describe("QuerySeries buckets (issue #2)", () => {
  const empty = (extra: Json) => ok("QuerySeries", { module: "audit-empty", ...extra });

  it("an empty module answers zero-filled rows", async () => {
    const res = await empty({ range: RANGE });
    expect(res).toEqual({
      rows: [
        { bucketStart: "2026-03-10T00:00:00Z", group: [], value: 0 },
        { bucketStart: "2026-03-11T00:00:00Z", group: [], value: 0 },
      ],
      nextPageToken: "",
    });
  });

  it("DST days in Europe/Berlin last 23 and 25 hours", async () => {
    const spring = await empty({
      range: { start: "2026-03-28T00:00:00Z", end: "2026-03-31T00:00:00Z" },
      interval: "INTERVAL_DAY",
      timeZone: "Europe/Berlin",
    });
    // The first bucket starts before range.start: midnight local on the 28th.
    expect(starts(spring)).toEqual([
      "2026-03-27T23:00:00Z",
      "2026-03-28T23:00:00Z",
      "2026-03-29T22:00:00Z",
      "2026-03-30T22:00:00Z",
    ]);
    const autumn = await empty({
      range: { start: "2026-10-24T22:00:00Z", end: "2026-10-25T23:00:00Z" },
      interval: "INTERVAL_HOUR",
      timeZone: "Europe/Berlin",
    });
    expect(starts(autumn)).toHaveLength(25);
    const day = await empty({
      range: { start: "2026-10-24T22:00:00Z", end: "2026-10-25T23:00:00Z" },
      timeZone: "Europe/Berlin",
    });
    expect(starts(day)).toEqual(["2026-10-24T22:00:00Z"]);
  });

  it("weeks start Monday 00:00 local unless weekStart names another day; months the 1st local", async () => {
    const range = { start: "2026-03-04T00:00:00Z", end: "2026-03-20T00:00:00Z" };
    expect(starts(await empty({ range, interval: "INTERVAL_WEEK" }))).toEqual([
      "2026-03-02T00:00:00Z",
      "2026-03-09T00:00:00Z",
      "2026-03-16T00:00:00Z",
    ]);
    expect(
      starts(
        await empty({
          range,
          interval: "INTERVAL_WEEK",
          timeZone: "Australia/Sydney",
          weekStart: "WEEKDAY_SUNDAY",
        }),
      ),
    ).toEqual(["2026-02-28T13:00:00Z", "2026-03-07T13:00:00Z", "2026-03-14T13:00:00Z"]);
    expect(
      starts(
        await empty({
          range: { start: "2026-03-04T00:00:00Z", end: "2026-05-20T00:00:00Z" },
          interval: "INTERVAL_MONTH",
          timeZone: "Australia/Sydney",
        }),
      ),
    ).toEqual(["2026-02-28T13:00:00Z", "2026-03-31T13:00:00Z", "2026-04-30T14:00:00Z"]);
  });

  it("TOTAL is one bucket starting at range.start; only events inside [start, end) count", async () => {
    const range = { start: "2026-03-10T00:00:00Z", end: "2026-03-12T00:00:00Z" };
    const res = await ok("QuerySeries", { module: "audit-sem", range, interval: "INTERVAL_TOTAL" });
    expect(res.rows).toEqual([{ bucketStart: range.start, group: [], value: 4 }]);
    const odd = await ok("QuerySeries", {
      module: "audit-sem",
      range: { start: "2026-03-10T10:30:07.250Z", end: "2026-03-12T00:00:00Z" },
      interval: "INTERVAL_TOTAL",
    });
    expect(odd.rows).toEqual([{ bucketStart: "2026-03-10T10:30:07.250Z", group: [], value: 2 }]);
  });
});

describe("fields, filters, grouping and aggregation (issue #2)", () => {
  const f = (field: string, op: string, values?: unknown[]) => ({
    filters: [{ field, op: `OPERATOR_${op}`, ...(values ? { values } : {}) }],
  });

  it.each<[string, Json, number]>([
    ["EQ reaches every array element", f("supplies.name", "EQ", ["Food"]), 1],
    ["EQ with several values", f("org", "EQ", ["org-1", "org-2"]), 3],
    ["EQ on type", f("type", "EQ", ["user.joined"]), 1],
    ["EQ keeps JSON types apart", f("score", "EQ", ["1.5"]), 0],
    ["EQ on a number", f("score", "EQ", [1.5]), 1],
    ["NEQ is true when the field is missing", f("org", "NEQ", ["org-1"]), 2],
    ["NEQ: no reached value may equal", f("supplies.name", "NEQ", ["Food"]), 3],
    ["EXISTS", f("supplies", "EXISTS"), 2],
    ["NOT_EXISTS", f("supplies", "NOT_EXISTS"), 2],
    ["GT", f("supplies.value", "GT", [5]), 1],
    ["GTE", f("supplies.value", "GTE", [5]), 2],
    ["LT", f("supplies.value", "LT", [5]), 1],
    ["LTE", f("supplies.value", "LTE", [2]), 1],
    ["CONTAINS ignores case", f("supplies.name", "CONTAINS", ["CHILDCARE"]), 2],
    ["a box, edges inclusive", { geo: { box: { south: 52.52, west: 13.405, north: 52.9, east: 13.9 } } }, 2],
    ["a circle", { geo: { circle: { center: { lat: 52.52, lon: 13.405 }, radiusMeters: 1 } } }, 1],
    [
      "all filters together",
      { filters: [...f("org", "EQ", ["org-1"]).filters, ...f("type", "EQ", ["enrolled"]).filters] },
      1,
    ],
  ])("%s", async (_, extra, count) => {
    expect(await total("audit-sem", extra)).toBe(count);
  });

  it("an event joins one group per reached value; missing groups as ''; numbers in JS form", async () => {
    const res = await ok("QuerySeries", {
      module: "audit-sem",
      range: RANGE,
      interval: "INTERVAL_TOTAL",
      groupBy: ["supplies.name", "n"],
    });
    expect(res.rows).toEqual(
      [
        [["", ""], 1],
        [["", "1e+21"], 1],
        [["Childcare", ""], 1],
        [["Food", ""], 1],
        [["childcare x", ""], 1],
      ].map(([group, value]) => ({ bucketStart: RANGE.start, group, value })),
    );
  });

  it("several groupBy fields: one group per distinct combination of the reached values", async () => {
    const res = await ok("QuerySeries", {
      module: "audit-sem",
      range: RANGE,
      interval: "INTERVAL_TOTAL",
      groupBy: ["supplies.name", "supplies.value"],
      filters: [{ field: "supplies", op: "OPERATOR_EXISTS" }],
    });
    expect((res.rows as Row[]).map((r) => [r.group, r.value])).toEqual([
      [["Childcare", "2"], 1],
      [["Childcare", "5"], 1],
      [["Food", "2"], 1],
      [["Food", "5"], 1],
      [["childcare x", "10"], 1],
    ]);
  });

  it("rows are zero-filled for every group and ordered by bucketStart, then group", async () => {
    const res = await ok("QuerySeries", { module: "audit-sem", range: RANGE, groupBy: ["org"] });
    expect((res.rows as Row[]).map((r) => [r.bucketStart.slice(0, 10), r.group[0], r.value])).toEqual([
      ["2026-03-10", "", 1],
      ["2026-03-10", "org-1", 1],
      ["2026-03-10", "org-2", 1],
      ["2026-03-11", "", 0],
      ["2026-03-11", "org-1", 1],
      ["2026-03-11", "org-2", 0],
    ]);
  });

  it.each<[string, string, number]>([
    ["COUNT_UNIQUE", "userId", 2],
    ["SUM", "supplies.value", 17],
    ["AVG", "supplies.value", 17 / 3],
    ["MIN", "supplies.value", 2],
    ["MAX", "supplies.value", 10],
    ["SUM", "score", 101.5],
    ["COUNT_UNIQUE", "supplies.name", 3],
  ])("%s of %s", async (fn, field, value) => {
    expect(await total("audit-sem", { aggregation: { function: `AGGREGATION_FUNCTION_${fn}`, field } })).toBe(
      value,
    );
  });
});

describe("QueryGeo and ListEvents (issue #2)", () => {
  it("bins are floor cells at their events' mean position, by count descending, minCount a floor", async () => {
    const res = await ok("QueryGeo", { module: "audit-sem", range: RANGE });
    expect(res).toEqual({
      bins: [
        { lat: (52.52 + 52.9) / 2, lon: (13.405 + 13.9) / 2, count: 2 },
        { lat: -33.87, lon: 151.21, count: 1 },
      ],
      nextPageToken: "",
    });
    const floored = await ok("QueryGeo", { module: "audit-sem", range: RANGE, minCount: 2 });
    expect((floored.bins as unknown[]).length).toBe(1);
    const fine = await ok("QueryGeo", { module: "audit-sem", range: RANGE, cellDegrees: 0.5 });
    expect((fine.bins as unknown[]).length).toBe(3);
  });

  it("ListEvents: ORDER_ASC by default, ORDER_DESC on request, events in proto3 JSON", async () => {
    const asc = await ok("ListEvents", { module: "audit-sem", range: RANGE });
    expect((asc.events as { id: string }[]).map((e) => e.id)).toEqual(["e4", "e1", "e2", "e3"]);
    expect((asc.events as Json[])[1]).toEqual(SEMANTIC_EVENTS[0]);
    const desc = await ok("ListEvents", { module: "audit-sem", range: RANGE, order: "ORDER_DESC" });
    expect((desc.events as { id: string }[]).map((e) => e.id)).toEqual(["e3", "e2", "e1", "e4"]);
  });
});

describe("pagination (issue #2)", () => {
  it("documented defaults and maxima: 1,000/10,000 rows, 100/1,000 events", async () => {
    const minutes = { start: "2026-03-01T00:00:00Z", end: "2026-03-15T00:00:00Z" };
    const series = (pageSize?: number) =>
      ok("QuerySeries", { module: "audit-empty", range: minutes, interval: "INTERVAL_MINUTE", pageSize });
    expect(((await series()).rows as unknown[]).length).toBe(1000);
    expect(((await series(50_000)).rows as unknown[]).length).toBe(10_000);
    const events = Array.from({ length: 1100 }, (_, i) => ({
      id: `p${i}`,
      type: "x",
      time: new Date(Date.UTC(2026, 2, 10) + i * 1000).toISOString(),
    }));
    await record("audit-pages", events);
    const list = (pageSize?: number) => ok("ListEvents", { module: "audit-pages", range: RANGE, pageSize });
    expect(((await list()).events as unknown[]).length).toBe(100);
    expect(((await list(5000)).events as unknown[]).length).toBe(1000);
  });

  it("pages never repeat or skip, even when events arrive between pages", async () => {
    const base = Date.UTC(2026, 2, 11, 6);
    const at = (s: number) => new Date(base + s * 1000).toISOString();
    await record(
      "audit-keyset",
      Array.from({ length: 7 }, (_, i) => ({ id: `k${i}`, type: "x", time: at(i * 10) })),
    );
    const request = { module: "audit-keyset", range: RANGE, pageSize: 3 };
    const seen: string[] = [];
    let pageToken = "";
    let arrivals = 0;
    do {
      const page = await ok("ListEvents", { ...request, pageToken });
      seen.push(...(page.events as { id: string }[]).map((e) => e.id));
      pageToken = page.nextPageToken as string;
      // Newcomers before, between and after the pages already read.
      await record("audit-keyset", [
        { id: `n${arrivals++}`, type: "x", time: at(-5) },
        { id: `n${arrivals++}`, type: "x", time: at(15) },
        { id: `n${arrivals++}`, type: "x", time: at(200) },
      ]);
    } while (pageToken);
    expect(seen).toEqual(["k0", "k1", "k2", "k3", "k4", "k5", "k6"]);
  });

  it("a token of another query, or a forged one, is invalid_argument on pageToken", async () => {
    const first = await ok("QuerySeries", { module: "audit-sem", range: RANGE, pageSize: 1 });
    const token = first.nextPageToken as string;
    expect(token).not.toBe("");
    for (const other of [
      { module: "audit-sem", range: RANGE, pageSize: 1, timeZone: "Europe/Berlin", pageToken: token },
      { module: "audit-sem", range: RANGE, pageSize: 1, pageToken: `${token.slice(0, -2)}AA` },
      { module: "audit-sem", range: RANGE, pageSize: 1, pageToken: "forged" },
    ]) {
      const res = await call("QuerySeries", other);
      expect(res.json).toEqual({ code: "invalid_argument", message: expect.stringMatching(/^pageToken: /) });
    }
    const geo = await call("QueryGeo", { module: "audit-sem", range: RANGE, pageToken: token });
    expect(geo.json.code).toBe("invalid_argument");
  });
});

describe("CSV export (issue #4)", () => {
  it("series: bucket_start in the query's zone with its offset, a column per groupBy field, value; CRLF", async () => {
    const { csv, end } = await exportCsv({
      series: {
        module: "audit-empty",
        range: { start: "2026-03-28T00:00:00Z", end: "2026-03-30T00:00:00Z" },
        timeZone: "Europe/Berlin",
      },
    });
    expect(end).toEqual({});
    expect(csv).toBe(
      "bucket_start,value\r\n2026-03-28T00:00:00+01:00,0\r\n2026-03-29T00:00:00+01:00,0\r\n2026-03-30T00:00:00+02:00,0\r\n",
    );
    const grouped = await exportCsv({
      series: { module: "audit-sem", range: RANGE, interval: "INTERVAL_TOTAL", groupBy: ["type", "org"] },
    });
    expect(grouped.csv.split("\r\n")[0]).toBe("bucket_start,type,org,value");
  });

  it("series: bucket_start is QuerySeries' bucketStart to the millisecond", async () => {
    const series = {
      module: "audit-sem",
      range: { start: "2026-03-10T10:30:07.250Z", end: RANGE.end },
      interval: "INTERVAL_TOTAL",
      timeZone: "Europe/Berlin",
    };
    const rows = (await ok("QuerySeries", series)).rows as Row[];
    const { csv } = await exportCsv({ series });
    const parsed = parse(csv, { columns: true }) as { bucket_start: string; value: string }[];
    expect(parsed.map((r) => [Date.parse(r.bucket_start), Number(r.value)])).toEqual(
      rows.map((r) => [Date.parse(r.bucketStart), r.value]),
    );
    expect(parsed[0]!.bucket_start).toBe("2026-03-10T11:30:07.250+01:00");
  });

  it("geo: lat,lon,count, with a BOM when asked", async () => {
    const { csv } = await exportCsv({ geo: { module: "audit-sem", range: RANGE }, bom: true });
    expect(csv).toBe(
      `\uFEFFlat,lon,count\r\n${(52.52 + 52.9) / 2},${(13.405 + 13.9) / 2},2\r\n-33.87,151.21,1\r\n`,
    );
  });

  it("events: id,type,time,lat,lon then data paths; quoting, formula cells, numbers left alone", async () => {
    await record("audit-csv", [
      {
        id: "=id",
        type: "x",
        time: "2026-03-10T09:30:00Z",
        data: { a: "x,y", b: 'q"q', c: "line\nbreak", d: "-5", e: -5, f: "@h", g: "\tt", h: { i: [1, "z"] } },
        location: { lat: 52.52, lon: 13.405 },
      },
    ]);
    const { csv } = await exportCsv({ events: { module: "audit-csv", range: RANGE } });
    expect(csv).toBe(
      'id,type,time,lat,lon,a,b,c,d,e,f,g,h.i\r\n\'=id,x,2026-03-10T09:30:00.000Z,52.52,13.405,"x,y","q""q","line\nbreak",\'-5,-5,\'@h,\'\tt,"[1,""z""]"\r\n',
    );
    const parsed = parse(csv, { columns: true }) as Record<string, string>[];
    expect(parsed[0]!.c).toBe("line\nbreak");
    const chosen = await exportCsv({ events: { module: "audit-csv", range: RANGE }, columns: ["e", "zz"] });
    expect(chosen.csv).toBe(
      "id,type,time,lat,lon,e,zz\r\n'=id,x,2026-03-10T09:30:00.000Z,52.52,13.405,-5,\r\n",
    );
  });

  it("a download link: text/csv, attachment named <module>-<kind>-<from>-<to>.csv, gzip, 403 when altered", async () => {
    const link = await ok("CreateExportLink", { events: { module: "audit-csv", range: RANGE } });
    expect(link.url).toMatch(/^\/exports\//);
    const expires = Date.parse(link.expiresAt as string);
    expect(expires - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    const res = await fetch(`${server.url}${link.url}`, { headers: { "accept-encoding": "gzip" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe(
      'attachment; filename="audit-csv-events-2026-03-10-2026-03-12.csv"',
    );
    const expected = (await exportCsv({ events: { module: "audit-csv", range: RANGE } })).csv;
    expect(await res.text()).toBe(expected);
    // fetch decodes gzip itself; ask again without it to see the encoding on the wire.
    const raw = await new Promise<{ encoding?: string; body: Buffer }>((resolve, reject) => {
      import("node:http").then(({ get }) =>
        get(`${server.url}${link.url}`, { headers: { "accept-encoding": "gzip" } }, (r) => {
          const chunks: Buffer[] = [];
          r.on("data", (c: Buffer) => chunks.push(c));
          r.on("end", () =>
            resolve({ encoding: r.headers["content-encoding"], body: Buffer.concat(chunks) }),
          );
        }).on("error", reject),
      );
    });
    expect(raw.encoding).toBe("gzip");
    expect(gunzipSync(raw.body).toString()).toBe(expected);
    const altered = await fetch(`${server.url}${link.url as string}x`);
    expect(altered.status).toBe(403);
    expect(await altered.text()).toMatch(/[a-z]+ [a-z]+/);
  });
});

describe("the tally CLI (issue #4)", () => {
  function tally(args: string[], env: Record<string, string> = {}, input = "") {
    const child = spawn(process.execPath, ["cli/bin/tally.mjs", ...args], {
      cwd: ROOT,
      env: { ...process.env, TALLY_SERVER: "", TALLY_TOKEN: "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(input);
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.once("close", (code) => resolve({ code, stdout, stderr })),
    );
  }

  it("a command per RPC plus serve and demo", async () => {
    const help = await tally(["--help"]);
    for (const command of ["record", "series", "geo", "events", "export", "serve", "demo"]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    }
  });

  it("the issue's flags build the RPC's request; JSON when not on a TTY; --server from TALLY_SERVER", async () => {
    const run = await tally(
      [
        "series",
        "--module",
        "audit-sem",
        "--from",
        RANGE.start,
        "--to",
        RANGE.end,
        "--interval",
        "day",
        "--tz",
        "Europe/Berlin",
        "--filter",
        "org=org-1",
        "--filter",
        "supplies.name=Childcare",
        "--filter",
        "supplies.value>=5",
        "--group-by",
        "type",
        "--unique",
        "userId",
        "--near",
        "52.52,13.405,50km",
      ],
      { TALLY_SERVER: server.url },
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const direct = await ok("QuerySeries", {
      module: "audit-sem",
      range: RANGE,
      interval: "INTERVAL_DAY",
      timeZone: "Europe/Berlin",
      filters: [
        { field: "org", op: "OPERATOR_EQ", values: ["org-1"] },
        { field: "supplies.name", op: "OPERATOR_EQ", values: ["Childcare"] },
        { field: "supplies.value", op: "OPERATOR_GTE", values: [5] },
      ],
      groupBy: ["type"],
      aggregation: { function: "AGGREGATION_FUNCTION_COUNT_UNIQUE", field: "userId" },
      geo: { circle: { center: { lat: 52.52, lon: 13.405 }, radiusMeters: 50_000 } },
    });
    expect(JSON.parse(run.stdout)).toEqual(direct);
    expect((direct.rows as Row[]).some((r) => r.value === 1)).toBe(true);
    const box = await tally([
      "geo",
      "--server",
      server.url,
      "--module",
      "audit-sem",
      "--from",
      RANGE.start,
      "--to",
      RANGE.end,
      "--box",
      "52,13,53,14",
      "-o",
      "ndjson",
    ]);
    expect(
      box.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([{ lat: (52.52 + 52.9) / 2, lon: (13.405 + 13.9) / 2, count: 2 }]);
    // The issue's own example: a negative latitude first, which must not read as a flag.
    const near = await tally([
      "geo",
      "--server",
      server.url,
      "--module",
      "audit-sem",
      "--from",
      RANGE.start,
      "--to",
      RANGE.end,
      "--near",
      "-33.87,151.21,50km",
      "-o",
      "ndjson",
    ]);
    expect(
      near.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([{ lat: -33.87, lon: 151.21, count: 1 }]);
  });

  it("record reads NDJSON from stdin; export --out writes the CSV; --all follows every page", async () => {
    const lines = ["a", "b", "c"].map((id, i) =>
      JSON.stringify({ id, type: "cli", time: `2026-03-10T0${i}:00:00Z`, data: { n: i } }),
    );
    const rec = await tally(
      ["record", "--server", server.url, "--module", "audit-cli"],
      {},
      `${lines.join("\n")}\n`,
    );
    expect(rec.code).toBe(0);
    expect(JSON.parse(rec.stdout)).toEqual({ accepted: 3, duplicates: 0 });
    const all = await tally([
      "events",
      "--server",
      server.url,
      "--module",
      "audit-cli",
      "--from",
      RANGE.start,
      "--to",
      RANGE.end,
      "--page-size",
      "1",
      "--all",
      "-o",
      "ndjson",
    ]);
    expect(
      all.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).id),
    ).toEqual(["a", "b", "c"]);
    const dir = mkdtempSync(join(tmpdir(), "tally-contract-cli-"));
    try {
      const out = join(dir, "file.csv");
      const exp = await tally([
        "export",
        "--server",
        server.url,
        "--events",
        "--module",
        "audit-cli",
        "--from",
        RANGE.start,
        "--to",
        RANGE.end,
        "--out",
        out,
      ]);
      expect(exp.code).toBe(0);
      expect(readFileSync(out, "utf8")).toBe(
        "id,type,time,lat,lon,n\r\na,cli,2026-03-10T00:00:00.000Z,,,0\r\nb,cli,2026-03-10T01:00:00.000Z,,,1\r\nc,cli,2026-03-10T02:00:00.000Z,,,2\r\n",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("failures: a non-zero exit and one readable line", async () => {
    const refused = await tally(["series", "--server", "http://127.0.0.1:1", "--module", "m"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^tally: .*connection refused.*\n$/);
    const invalid = await tally(["series", "--server", server.url, "--module", "m", "--tz", "Mars/Base"]);
    expect(invalid.code).not.toBe(0);
    expect(invalid.stderr).toMatch(/^tally: invalid argument: timeZone: .*\n$/);
  });
});
