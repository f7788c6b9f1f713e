/**
 * Page tokens are bound to the tenant, the RPC and every request field but `pageSize` (docs/api.md
 * "Pagination"); page sizes: 0 is the default, negative is refused, above the maximum gets the maximum.
 */
import { createHash } from "node:crypto";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { Interval, Operator, Order, TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { routerOptions, routes } from "./routes.ts";
import { testDeps } from "./test-deps.ts";

const T0 = Date.UTC(2026, 2, 1);
const HOUR = 3_600_000;
const MODULE = "mod-bind";
const RANGE = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 2 * 24 * HOUR) };
const hash = (key: string) => createHash("sha256").update(key).digest("hex");
const deps = testDeps({
  keys: [
    { hash: hash("acme"), tenant: "acme", scopes: ["read", "ingest", "admin"] },
    { hash: hash("acme2"), tenant: "acme", scopes: ["read"] },
    { hash: hash("umbrella"), tenant: "umbrella", scopes: ["read", "ingest"] },
  ],
});
const c = createClient(
  TelemetryService,
  createRouterTransport((router) => routes(router, deps), { router: routerOptions(deps) }),
);
const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
const str = (value: string) => ({ kind: { case: "stringValue" as const, value } });

async function refusedOnPageToken(call: Promise<unknown>) {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  expect((error as ConnectError).code).toBe(Code.InvalidArgument);
  expect((error as ConnectError).rawMessage).toMatch(/^pageToken: /);
}

beforeAll(async () => {
  for (const key of ["acme", "umbrella"]) {
    await c.recordEvents(
      {
        module: MODULE,
        events: Array.from({ length: 30 }, (_, i) => ({
          id: `e${i}`,
          type: i % 2 ? "odd" : "even",
          time: timestampFromMs(T0 + (i % 5) * HOUR),
          data: { org: `o${i % 3}` },
          location: { lat: i, lon: i },
        })),
      },
      as(key),
    );
  }
});

describe("page tokens are bound to the request", () => {
  it("ListEvents: any field changed but pageSize → invalid_argument on pageToken", async () => {
    const base = {
      module: MODULE,
      range: RANGE,
      types: ["odd", "even"],
      filters: [{ field: "org", op: Operator.NEQ, values: [str("zz")] }],
      order: Order.DESC,
      pageSize: 4,
    };
    const first = await c.listEvents(base, as("acme"));
    const pageToken = first.nextPageToken;
    expect(pageToken).not.toBe("");
    // The same request at another page size, and by another key of the same tenant, goes on.
    const next = await c.listEvents({ ...base, pageSize: 9, pageToken }, as("acme2"));
    expect(next.events.map((e) => e.id)).not.toContain(first.events[3]!.id);
    expect(next.events).toHaveLength(9);
    const changed = [
      { ...base, module: "mod-other" },
      { ...base, types: ["odd"] },
      { ...base, types: ["even", "odd"] },
      { ...base, range: { ...RANGE, end: timestampFromMs(T0 + 3 * 24 * HOUR) } },
      { ...base, range: { ...RANGE, start: timestampFromMs(T0 + 1) } },
      { ...base, filters: [] },
      { ...base, filters: [{ field: "org", op: Operator.NEQ, values: [str("zy")] }] },
      { ...base, order: Order.ASC },
      {
        ...base,
        geo: { shape: { case: "box" as const, value: { south: -90, west: -180, north: 90, east: 180 } } },
      },
    ];
    for (const request of changed)
      await refusedOnPageToken(c.listEvents({ ...request, pageToken }, as("acme")));
    // Another tenant, the same request.
    await refusedOnPageToken(c.listEvents({ ...base, pageToken }, as("umbrella")));
    // Another RPC.
    await refusedOnPageToken(c.querySeries({ module: MODULE, range: RANGE, pageToken }, as("acme")));
    await refusedOnPageToken(c.queryGeo({ module: MODULE, range: RANGE, pageToken }, as("acme")));
  });

  it("QuerySeries and QueryGeo: changed fields, other tenants, altered bytes → invalid_argument", async () => {
    const series = {
      module: MODULE,
      range: RANGE,
      interval: Interval.HOUR,
      groupBy: ["org"],
      timeZone: "UTC",
      pageSize: 5,
    };
    const s = (await c.querySeries(series, as("acme"))).nextPageToken;
    expect(s).not.toBe("");
    expect(
      (await c.querySeries({ ...series, pageSize: 0, pageToken: s }, as("acme"))).rows.length,
    ).toBeGreaterThan(0);
    for (const request of [
      { ...series, interval: Interval.DAY },
      { ...series, groupBy: [] },
      { ...series, timeZone: "Europe/Berlin" },
      { ...series, aggregation: { field: "n" } },
    ])
      await refusedOnPageToken(c.querySeries({ ...request, pageToken: s }, as("acme")));
    await refusedOnPageToken(c.querySeries({ ...series, pageToken: s }, as("umbrella")));

    const geo = { module: MODULE, range: RANGE, cellDegrees: 1, pageSize: 3 };
    const g = (await c.queryGeo(geo, as("acme"))).nextPageToken;
    expect(g).not.toBe("");
    for (const request of [
      { ...geo, cellDegrees: 2 },
      { ...geo, minCount: 2 },
      { ...geo, types: ["odd"] },
    ])
      await refusedOnPageToken(c.queryGeo({ ...request, pageToken: g }, as("acme")));
    await refusedOnPageToken(c.queryGeo({ ...geo, pageToken: g }, as("umbrella")));
    // Every single character altered, dropped or added.
    for (let i = 0; i < g.length; i++) {
      const other = g[i] === "A" ? "B" : "A";
      await refusedOnPageToken(
        c.queryGeo({ ...geo, pageToken: g.slice(0, i) + other + g.slice(i + 1) }, as("acme")),
      );
    }
    for (const bad of [g.slice(0, -1), `${g}A`, `${g}.`, `.${g}`, g.replace(".", ""), " ", "..", "\u00e9"])
      await refusedOnPageToken(c.queryGeo({ ...geo, pageToken: bad }, as("acme")));
  });
});

describe("page sizes", () => {
  it("0 is the default, negative is refused on pageSize, above the maximum gets the maximum", async () => {
    const small = testDeps({
      limits: { defaultEventsPageSize: 3, maxEventsPageSize: 5, defaultPageSize: 4, maxPageSize: 6 },
    });
    const s = createClient(
      TelemetryService,
      createRouterTransport((router) => routes(router, small), { router: routerOptions(small) }),
    );
    await s.recordEvents({
      module: MODULE,
      events: Array.from({ length: 10 }, (_, i) => ({
        id: `e${i}`,
        type: "t",
        time: timestampFromMs(T0 + i * HOUR),
        location: { lat: i, lon: i },
      })),
    });
    const list = (pageSize: number) => s.listEvents({ module: MODULE, range: RANGE, pageSize });
    const series = (pageSize: number) =>
      s.querySeries({ module: MODULE, range: RANGE, interval: Interval.HOUR, pageSize });
    const geo = (pageSize: number) => s.queryGeo({ module: MODULE, range: RANGE, cellDegrees: 1, pageSize });
    expect((await list(0)).events).toHaveLength(3);
    expect((await list(5)).events).toHaveLength(5);
    expect((await list(2 ** 31 - 1)).events).toHaveLength(5);
    expect((await series(0)).rows).toHaveLength(4);
    expect((await series(1000)).rows).toHaveLength(6);
    expect((await geo(0)).bins).toHaveLength(4);
    expect((await geo(7)).bins).toHaveLength(6);
    // Each call made as it is awaited: one made ahead could be refused before its handler is attached.
    for (const call of [() => list(-1), () => series(-1), () => geo(-(2 ** 31))]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e as ConnectError,
      );
      expect(error?.code).toBe(Code.InvalidArgument);
      expect(error?.rawMessage).toMatch(/^pageSize: /);
    }
    // The last page exactly full ends the paging: 10 events in pages of 5.
    const first = await list(5);
    const last = await s.listEvents({
      module: MODULE,
      range: RANGE,
      pageSize: 5,
      pageToken: first.nextPageToken,
    });
    expect(last.events.map((e) => e.id)).toEqual(["e5", "e6", "e7", "e8", "e9"]);
    expect(last.nextPageToken).toBe("");
  });
});
