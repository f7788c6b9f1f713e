/**
 * Location handling against the contract, end to end through the service (validation, store, pages), in
 * process and in Workers steps, compared with the reference model (test/reference-model.ts): box and
 * circle filters at their edges, across the antimeridian and at the poles; QueryGeo's cells at negative
 * coordinates, cell edges, odd and tiny cell sizes, asked repeatedly (so that the cached cell index
 * answers too), through pages of every size.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type GeoFilter,
  GeoFilterSchema,
  Interval,
  ListEventsRequestSchema,
  QueryGeoRequestSchema,
  QuerySeriesRequestSchema,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { compactModule } from "../store/compaction.ts";
import { type ModelEvent, ReferenceModel } from "../test/reference-model.ts";
import { routerOptions, routes } from "./routes.ts";
import type { ServiceDeps } from "./service.ts";
import { testDeps } from "./test-deps.ts";
import { type Fetcher, WorkerSteps } from "./worker-steps.ts";

const T0 = Date.UTC(2026, 2, 1);
const HOUR = 3_600_000;
const range = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 48 * HOUR) };
const MODULE = "mod-geo";

function clientOf(deps: ServiceDeps) {
  return createClient(
    TelemetryService,
    createRouterTransport((router) => routes(router, deps), { router: routerOptions(deps) }),
  );
}

/** Edges: poles, antimeridian, signed zeros, cell edges that floating-point division puts off by one. */
const LATS = [-90, 90, 0, -0, 0.3, -0.3, 0.7, -0.7, 45, -45, 89.9999, -89.9999, 0.0001, -0.0001, 1e-300];
const LONS = [-180, 180, 0, -0, 0.3, -0.3, 179.9999, -179.9999, 90, -90, 0.0001, -0.0001, 1e-300];
const lat = fc.oneof(fc.constantFrom(...LATS), fc.double({ min: -90, max: 90, noNaN: true }));
const lon = fc.oneof(fc.constantFrom(...LONS), fc.double({ min: -180, max: 180, noNaN: true }));
const location = fc.option(fc.record({ lat, lon }), { nil: undefined, freq: 5 });

const box = fc.record({ a: lat, b: lat, west: lon, east: lon }).map(({ a, b, west, east }) =>
  create(GeoFilterSchema, {
    shape: { case: "box", value: { south: Math.min(a, b), north: Math.max(a, b), west, east } },
  }),
);
const circle = fc
  .record({
    lat,
    lon,
    radiusMeters: fc.oneof(
      fc.constantFrom(1e-9, 1, 33_358, 111_195, 1e7, 2.1e7, 4e7, 1e12),
      fc.double({ min: 1, max: 2.1e7, noNaN: true }),
    ),
  })
  .map(({ lat, lon, radiusMeters }) =>
    create(GeoFilterSchema, { shape: { case: "circle", value: { center: { lat, lon }, radiusMeters } } }),
  );
const geo: fc.Arbitrary<GeoFilter | undefined> = fc.option(fc.oneof(box, circle), { nil: undefined });
const cellDegrees = fc.oneof(
  fc.constantFrom(0, 0.1, 0.0001, 0.3, 0.7, 7, 11, 45, 180, 1, 360 / 7),
  fc.double({ min: 0.0001, max: 180, noNaN: true }),
);

function depsOf(stepped: boolean): ServiceDeps {
  const deps = testDeps();
  if (!stepped) return deps;
  const secret = new TextEncoder().encode("a secret of the server, long enough");
  // Steps go through their JSON form, as to a Durable Object.
  const server = new WorkerSteps({ store: deps.store, secret, maxEvents: 7 });
  const remote: Fetcher = { fetch: (request) => server.serve(request) };
  const steps = new WorkerSteps({ store: deps.store, secret, maxEvents: 7, remote });
  return { ...deps, aggregate: steps.aggregations() };
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1e-3);

describe.each([false, true])("location handling (Workers steps: %s)", (stepped) => {
  it("QueryGeo, QuerySeries and ListEvents select and bin located events as the reference model does", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(location, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }),
        geo,
        cellDegrees,
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        async (batches, geo, cellDegrees, minCount, pageSize, compact) => {
          const deps = depsOf(stepped);
          const client = clientOf(deps);
          const model = new ReferenceModel();
          let n = 0;
          for (const batch of batches) {
            const events = batch.map((location) => {
              const timeMs = T0 + (n++ % 40) * HOUR;
              return { id: `e${n}`, type: "t", timeMs, location };
            });
            await client.recordEvents({
              module: MODULE,
              events: events.map((e) => ({
                id: e.id,
                type: e.type,
                time: timestampFromMs(e.timeMs),
                ...(e.location ? { location: e.location } : {}),
              })),
            });
            model.record(events.map((e): ModelEvent => ({ ...e, module: MODULE, data: {} })));
          }
          if (compact) await compactModule(deps.store, "default", MODULE);
          const request = { module: MODULE, range, ...(geo ? { geo } : {}), cellDegrees, minCount };
          const expected = model.queryGeo(create(QueryGeoRequestSchema, request));
          // Three times: the cell index is built on a segment's second visit and used on the third.
          for (let round = 0; round < 3; round++) {
            const bins = [];
            let pageToken = "";
            do {
              const res = await client.queryGeo({ ...request, pageSize, pageToken });
              expect(res.bins.length).toBeLessThanOrEqual(pageSize);
              bins.push(...res.bins);
              pageToken = res.nextPageToken;
            } while (pageToken);
            expect(bins.map((b) => b.count)).toEqual(expected.map((b) => b.count));
            for (let i = 0; i < bins.length; i++) {
              expect(close(bins[i]!.lat, expected[i]!.lat), `bin ${i} lat`).toBe(true);
              expect(close(bins[i]!.lon, expected[i]!.lon), `bin ${i} lon`).toBe(true);
            }
          }
          const seriesRequest = { module: MODULE, range, ...(geo ? { geo } : {}), interval: Interval.TOTAL };
          const series = await client.querySeries(seriesRequest);
          expect(series.rows.map((r) => r.value)).toEqual(
            model.querySeries(create(QuerySeriesRequestSchema, seriesRequest)).map((r) => r.value),
          );
          const listRequest = { module: MODULE, range, ...(geo ? { geo } : {}) };
          const ids = [];
          let pageToken = "";
          do {
            const res = await client.listEvents({ ...listRequest, pageSize, pageToken });
            ids.push(
              ...res.events.map((e) => [
                e.id,
                e.location ? { lat: e.location.lat, lon: e.location.lon } : undefined,
              ]),
            );
            pageToken = res.nextPageToken;
          } while (pageToken);
          expect(ids).toEqual(
            model.listEvents(create(ListEventsRequestSchema, listRequest)).map((e) => [e.id, e.location]),
          );
        },
      ),
      { numRuns: Number(process.env.GEO_RUNS ?? 150) },
    );
  }, 120_000);
});
