/**
 * Reference suite: records a few thousand realistic events through the API, then runs every reference
 * query page by page and compares the concatenated pages with the naive model (reference-model.ts).
 * The same suite runs in process (reference.test.ts) and on workerd (workerd/reference.test.ts), over
 * whatever transport it is given.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AggregationFunction,
  type Event,
  Interval,
  ListEventsRequestSchema,
  Order,
  QueryGeoRequestSchema,
  QuerySeriesRequestSchema,
  type SeriesRow,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { BERLIN, generateReferenceData, toEventInit, zonedMidnight } from "./reference-data.ts";
import {
  bucketStarts,
  HOUR_MS,
  jsonEqual,
  localTime,
  type ModelEvent,
  type ModelGeoBin,
  type ModelSeriesRow,
  ReferenceModel,
} from "./reference-model.ts";
import {
  GEO_QUERIES,
  type GeoQuery,
  LIST_QUERIES,
  type ListQuery,
  SERIES_QUERIES,
  type SeriesQuery,
  type SeriesRequestInit,
} from "./reference-queries.ts";

/** Small pages, so that every query spans many of them. */
const PAGE = { series: 7, geo: 3, events: 5 } as const;
const MAX_PAGES = 2_000;

const data = generateReferenceData();

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** Follows nextPageToken until it is empty; returns every page. */
async function readPages<T>(
  fetch: (pageToken: string) => Promise<{ items: T[]; next: string }>,
): Promise<T[][]> {
  const pages: T[][] = [];
  let token = "";
  do {
    const { items, next } = await fetch(token);
    pages.push(items);
    token = next;
    if (pages.length > MAX_PAGES) throw new Error("pagination does not end");
  } while (token);
  return pages;
}

const relativelyClose = (a: number, b: number) =>
  Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1e-3);

/** Asserts equal sequences, reporting the first differing position with both items. */
function expectSameSequence<A, E>(actual: A[], expected: E[], same: (a: A, e: E) => boolean): void {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    const a = actual[i];
    const e = expected[i];
    if (a === undefined || e === undefined || !same(a, e)) {
      expect(
        { position: i, item: a },
        `first difference at ${i} (server sent ${actual.length}, model expects ${expected.length})`,
      ).toEqual({ position: i, item: e });
      return;
    }
  }
}

function expectNoRepeats(keys: string[]): void {
  const repeated = keys.filter((k, i) => keys.indexOf(k) !== i);
  expect(repeated, "items repeated across pages").toEqual([]);
}

function expectPagesWithin<T>(pages: T[][], size: number, total: number): void {
  for (const page of pages) expect(page.length).toBeLessThanOrEqual(size);
  // More results than one page holds must really be paged.
  if (total > size) expect(pages.length).toBeGreaterThan(1);
}

async function refusal(call: Promise<unknown>): Promise<Code | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

// Projections of server answers into the model's shapes.

function seriesRow(row: SeriesRow): ModelSeriesRow {
  return { bucketStartMs: timestampMs(row.bucketStart!), group: [...row.group], value: row.value };
}

/** Client ids sent; any other id must be one the server assigned to an id-less event. */
const clientIds = new Set(data.batches.flatMap((b) => b.events.map((e) => e.id)));

function modelEvent(module: string, e: Event): ModelEvent {
  const id = clientIds.has(e.id) ? e.id : e.id.length > 0 ? "" : "<server sent no id>";
  return {
    module,
    id,
    type: e.type,
    timeMs: timestampMs(e.time!),
    data: e.data ?? {},
    ...(e.location ? { location: { lat: e.location.lat, lon: e.location.lon } } : {}),
  };
}

/** Registers the reference suite against a fresh, empty server reached through `transport`. */
export function referenceSuite(title: string, transport: () => Promise<Transport> | Transport): void {
  const model = new ReferenceModel();
  let client: Client<typeof TelemetryService>;
  const recorded = { accepted: 0, duplicates: 0, perBatch: [] as { got: object; want: object }[] };

  beforeAll(async () => {
    client = createClient(TelemetryService, await transport());
    for (const batch of data.batches) {
      const res = await client.recordEvents({ module: batch.module, events: batch.events.map(toEventInit) });
      recorded.accepted += res.accepted;
      recorded.duplicates += res.duplicates;
      recorded.perBatch.push({
        got: { accepted: res.accepted, duplicates: res.duplicates },
        want: model.record(batch.events),
      });
    }
  }, 180_000); // recording batch by batch takes a while on a loaded machine, and on workerd

  async function seriesPages(
    request: SeriesRequestInit,
    pageSize: number = PAGE.series,
  ): Promise<ModelSeriesRow[][]> {
    return readPages(async (pageToken) => {
      const res = await client.querySeries({ ...request, pageSize, pageToken });
      return { items: res.rows.map(seriesRow), next: res.nextPageToken };
    });
  }

  describe(`reference ${title}: recording`, () => {
    it("accepts every distinct event once and counts every retry as a duplicate", () => {
      expect(data.events.length).toBeGreaterThan(3_000);
      expect(data.expectedDuplicates).toBeGreaterThan(50);
      expect(recorded.perBatch.map((b) => b.got)).toEqual(recorded.perBatch.map((b) => b.want));
      expect(recorded).toMatchObject({
        accepted: data.expectedAccepted,
        duplicates: data.expectedDuplicates,
      });
      expect(model.events.length).toBe(data.expectedAccepted);
    });
  });

  describe(`reference ${title}: the model's own time logic`, () => {
    it("puts Berlin DAY buckets on the local midnights computed from UTC offsets", () => {
      const starts = bucketStarts(Date.UTC(2026, 2, 20, 12), Date.UTC(2026, 3, 3), Interval.DAY, BERLIN);
      const midnights = Array.from({ length: 15 }, (_, i) => zonedMidnight(BERLIN, 2026, 3, 20 + i));
      expect(starts).toEqual(midnights);
      for (const s of starts) expect(localTime(s, BERLIN)).toMatchObject({ hour: 0, minute: 0 });
    });
  });

  describe(`reference ${title}: QuerySeries`, () => {
    for (const query of SERIES_QUERIES) {
      it(query.name, async () => {
        const expected = model.querySeries(create(QuerySeriesRequestSchema, query.request));
        expect(
          expected.some((r) => r.value !== 0),
          "the query selects something",
        ).toBe(true);
        const pages = await seriesPages(query.request);
        const rows = pages.flat();
        const avg = query.request.aggregation?.function === AggregationFunction.AVG;
        expectSameSequence(
          rows,
          expected,
          (a, e) =>
            a.bucketStartMs === e.bucketStartMs &&
            JSON.stringify(a.group) === JSON.stringify(e.group) &&
            (avg ? relativelyClose(a.value, e.value) : a.value === e.value),
        );
        expectNoRepeats(rows.map((r) => `${r.bucketStartMs} ${JSON.stringify(r.group)}`));
        expectPagesWithin(pages, PAGE.series, expected.length);
      });
    }
  });

  describe(`reference ${title}: QueryGeo`, () => {
    for (const query of GEO_QUERIES) {
      it(query.name, async () => {
        const { request } = query;
        const expected = model.queryGeo(create(QueryGeoRequestSchema, request));
        expect(expected.length, "the query selects something").toBeGreaterThan(1);
        const pages = await readPages(async (pageToken) => {
          const res = await client.queryGeo({ ...request, pageSize: PAGE.geo, pageToken });
          return {
            items: res.bins.map((b): ModelGeoBin => ({ lat: b.lat, lon: b.lon, count: b.count })),
            next: res.nextPageToken,
          };
        });
        const bins = pages.flat();
        expectSameSequence(
          bins,
          expected,
          (a, e) => a.count === e.count && relativelyClose(a.lat, e.lat) && relativelyClose(a.lon, e.lon),
        );
        expectNoRepeats(bins.map((b) => `${b.lat} ${b.lon} ${b.count}`));
        expectPagesWithin(pages, PAGE.geo, expected.length);
      });
    }
  });

  describe(`reference ${title}: ListEvents`, () => {
    for (const query of LIST_QUERIES) {
      it(query.name, async () => {
        const { request } = query;
        const module = request.module ?? "";
        const expected = model.listEvents(create(ListEventsRequestSchema, request));
        expect(expected.length, "the query selects something").toBeGreaterThan(PAGE.events);
        const pages = await readPages(async (pageToken) => {
          const res = await client.listEvents({ ...request, pageSize: PAGE.events, pageToken });
          return { items: res.events, next: res.nextPageToken };
        });
        const events = pages.flat();
        // Strip the model-only field (the sent sub-millisecond nanos) by projecting both sides alike.
        const project = (e: ModelEvent) => ({
          id: e.id,
          type: e.type,
          timeMs: e.timeMs,
          data: e.data,
          location: e.location,
        });
        expectSameSequence(
          events.map((e) => project(modelEvent(module, e))),
          expected.map(project),
          (a, e) =>
            a.id === e.id &&
            a.type === e.type &&
            a.timeMs === e.timeMs &&
            jsonEqual(a.data, e.data) &&
            a.location?.lat === e.location?.lat &&
            a.location?.lon === e.location?.lon,
        );
        // An id may recur at another time (a different event), so (time, id) is what must not repeat.
        expectNoRepeats(events.map((e) => `${timestampMs(e.time!)} ${e.id}`));
        expectPagesWithin(pages, PAGE.events, expected.length);
      });
    }
  });

  describe(`reference ${title}: DST days and page tokens`, () => {
    it("has a 23-hour and a 25-hour Berlin day between 24-hour neighbours", async () => {
      const lengths = async (fromDay: [number, number], toDay: [number, number]) => {
        const rows = (
          await seriesPages({
            module: "sys-account",
            range: {
              start: timestampFromMs(zonedMidnight(BERLIN, 2026, ...fromDay)),
              end: timestampFromMs(zonedMidnight(BERLIN, 2026, ...toDay)),
            },
            interval: Interval.DAY,
            timeZone: BERLIN,
          })
        ).flat();
        const starts = [...new Set(rows.map((r) => r.bucketStartMs))];
        return starts.slice(1).map((s, i) => (s - starts[i]!) / HOUR_MS);
      };
      // Days Mar 27, 28, 29, 30 (four starts, three lengths; Mar 30's length is beyond the range).
      expect(await lengths([3, 27], [3, 31])).toEqual([24, 24, 23]);
      expect(await lengths([10, 23], [10, 27])).toEqual([24, 24, 25]);
    });

    it("has 23 and 25 hourly buckets on Berlin's DST days", async () => {
      const hours = async (day: number, month: number) =>
        (
          await seriesPages(
            {
              module: "sys-account",
              range: {
                start: timestampFromMs(zonedMidnight(BERLIN, 2026, month, day)),
                end: timestampFromMs(zonedMidnight(BERLIN, 2026, month, day + 1)),
              },
              interval: Interval.HOUR,
              timeZone: BERLIN,
            },
            100,
          )
        ).flat().length;
      expect(await hours(29, 3)).toBe(23);
      expect(await hours(25, 10)).toBe(25);
    });

    it("refuses a page token used with a different query", async () => {
      const [a, b] = SERIES_QUERIES as [SeriesQuery, SeriesQuery];
      const [geoQuery] = GEO_QUERIES as [GeoQuery];
      const [listQuery] = LIST_QUERIES as [ListQuery];
      const first = await client.querySeries({ ...a.request, pageSize: PAGE.series });
      const token = first.nextPageToken;
      expect(token).not.toBe("");
      // The same query pages on with it; another query, a changed filter or another RPC may not.
      expect(
        await refusal(client.querySeries({ ...a.request, pageSize: PAGE.series, pageToken: token })),
      ).toBe(undefined);
      expect(
        await refusal(client.querySeries({ ...b.request, pageSize: PAGE.series, pageToken: token })),
      ).toBe(Code.InvalidArgument);
      expect(
        await refusal(
          client.querySeries({ ...a.request, timeZone: "UTC", pageSize: PAGE.series, pageToken: token }),
        ),
      ).toBe(Code.InvalidArgument);
      expect(await refusal(client.queryGeo({ ...geoQuery.request, pageToken: token }))).toBe(
        Code.InvalidArgument,
      );
      const listFirst = await client.listEvents({ ...listQuery.request, pageSize: PAGE.events });
      expect(
        await refusal(
          client.listEvents({
            ...listQuery.request,
            order: Order.DESC,
            pageSize: PAGE.events,
            pageToken: listFirst.nextPageToken,
          }),
        ),
      ).toBe(Code.InvalidArgument);
    });
  });
}
