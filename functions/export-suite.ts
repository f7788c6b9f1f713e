/**
 * ExportCsv and export links: every kind equals its RPC's answer once parsed with a real CSV parser,
 * options work, and a link that expired or was altered is refused with 403. Runs in process
 * (export.test.ts, with a clock the test moves) and on workerd (test/workerd/export.test.ts).
 */
import { gunzipSync } from "node:zlib";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { parse } from "csv-parse/sync";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AggregationFunction,
  type CreateExportLinkRequestSchema,
  Interval,
  type ListEventsRequestSchema,
  type QueryGeoRequestSchema,
  type QuerySeriesRequestSchema,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { generateEvents, toEventInit } from "../scripts/bench-data.ts";
import type { PathFetch } from "./bad-input-suite.ts";
import { LINK_TTL_MS } from "./export-link.ts";

export interface ExportTarget {
  transport: Transport;
  /** A fetch of a path. */
  fetch: PathFetch;
  /** Whether that fetch decodes `content-encoding` itself, as browsers and Node's fetch do. */
  decodes: boolean;
  /** The server's clock. */
  now(): number;
  /** Moves the server's clock, where the test controls it; without it, link expiry is not tested. */
  advance?: (ms: number) => void;
}

const START = Date.UTC(2026, 2, 1);
const END = Date.UTC(2026, 4, 1);
const range = { start: timestampFromMs(START), end: timestampFromMs(END) };

export function exportSuite(title: string, makeTarget: () => Promise<ExportTarget>): void {
  let target: ExportTarget;
  let client: Client<typeof TelemetryService>;
  const request_ = (path: string, init: RequestInit = {}) => target.fetch(path, init);

  beforeAll(async () => {
    target = await makeTarget();
    client = createClient(TelemetryService, target.transport);
    const events = generateEvents(3000, { seed: 11, start: START, end: END }).filter(
      (e) => e.module === "mod-disco",
    );
    events[0]!.data.note = '=HYPERLINK("x"), "quoted"\nand Zürich 東京';
    await client.recordEvents({
      module: "mod-disco",
      events: events.map(toEventInit),
    });
  });

  async function exportText(
    req: Parameters<Client<typeof TelemetryService>["exportCsv"]>[0],
  ): Promise<string> {
    const chunks: Uint8Array[] = [];
    for await (const res of client.exportCsv(req)) chunks.push(res.data);
    // Keep a BOM: it is part of what is being tested.
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(Buffer.concat(chunks));
  }

  const csv = (text: string) => parse(text, { bom: true }) as string[][];

  describe(`ExportCsv ${title}`, () => {
    it("exports a series with its groups, bucket starts in the query's zone", async () => {
      const series: MessageInitShape<typeof QuerySeriesRequestSchema> = {
        module: "mod-disco",
        range,
        interval: Interval.WEEK,
        timeZone: "Europe/Berlin",
        groupBy: ["type", "supplies.name"],
        aggregation: { function: AggregationFunction.SUM, field: "supplies.value" },
      };
      const rows = csv(await exportText({ query: { case: "series", value: series } }));
      const rpc = await client.querySeries({ ...series, pageSize: 10_000 });
      expect(rows[0]).toEqual(["bucket_start", "type", "supplies.name", "value"]);
      expect(rows.length - 1).toBe(rpc.rows.length);
      rpc.rows.forEach((r, i) => {
        const [start, type, supply, value] = rows[i + 1]!;
        expect(Date.parse(start!)).toBe(timestampMs(r.bucketStart!));
        expect(start).toMatch(/^\d{4}-\d\d-\d\dT00:00:00\+0[12]:00$/);
        expect([type, supply]).toEqual(r.group);
        expect(Number(value)).toBe(r.value);
      });
    });

    it("exports geo bins", async () => {
      const geo: MessageInitShape<typeof QueryGeoRequestSchema> = {
        module: "mod-disco",
        range,
        cellDegrees: 0.5,
        minCount: 2,
      };
      const rows = csv(await exportText({ query: { case: "geo", value: geo } }));
      const rpc = await client.queryGeo({ ...geo, pageSize: 10_000 });
      expect(rows[0]).toEqual(["lat", "lon", "count"]);
      expect(rows.slice(1).map((r) => r.map(Number))).toEqual(rpc.bins.map((b) => [b.lat, b.lon, b.count]));
    });

    it("exports events with every data path as a column, in order, across all pages", async () => {
      const events: MessageInitShape<typeof ListEventsRequestSchema> = { module: "mod-disco", range };
      const rows = csv(await exportText({ query: { case: "events", value: events }, bom: true }));
      const all = [];
      let pageToken = "";
      do {
        const page = await client.listEvents({ ...events, pageSize: 1000, pageToken });
        all.push(...page.events);
        pageToken = page.nextPageToken;
      } while (pageToken);
      const header = rows[0]!;
      expect(header.slice(0, 5)).toEqual(["id", "type", "time", "lat", "lon"]);
      expect(header.slice(5)).toEqual(["needs", "note", "org", "project", "supplies", "userId"]);
      expect(rows.length - 1).toBe(all.length);
      all.forEach((e, i) => {
        const row = Object.fromEntries(header.map((h, j) => [h, rows[i + 1]![j]]));
        expect(row.id).toBe(e.id);
        expect(row.time).toBe(new Date(timestampMs(e.time!)).toISOString());
        expect(row.lat).toBe(e.location ? String(e.location.lat) : "");
        expect(row.supplies).toBe(JSON.stringify(e.data!.supplies));
        const note = e.data!.note as string | undefined;
        expect(row.note).toBe(note === undefined ? "" : `'${note}`);
      });
    });

    it("starts with a BOM only when asked, and takes chosen columns", async () => {
      const events: MessageInitShape<typeof ListEventsRequestSchema> = {
        module: "mod-disco",
        range,
        types: ["unenrolled"],
      };
      const plain = await exportText({
        query: { case: "events", value: events },
        columns: ["org", "missing.path"],
      });
      const bom = await exportText({ query: { case: "events", value: events }, bom: true });
      expect(plain.startsWith("\uFEFF")).toBe(false);
      expect(bom.startsWith("\uFEFFid,type,time,lat,lon,")).toBe(true);
      expect(plain.split("\r\n")[0]).toBe("id,type,time,lat,lon,org,missing.path");
      expect(plain.split("\r\n")[1]).toMatch(/,org-\d+,$/);
    });

    it("refuses bad requests naming the field", async () => {
      const code = async (req: Parameters<Client<typeof TelemetryService>["exportCsv"]>[0]) => {
        try {
          await exportText(req);
        } catch (e) {
          return [ConnectError.from(e).code, ConnectError.from(e).rawMessage];
        }
        return undefined;
      };
      expect(await code({})).toEqual([
        Code.InvalidArgument,
        "query: one of series, geo or events is required",
      ]);
      expect(await code({ query: { case: "series", value: { module: "mod-disco" } } })).toEqual([
        Code.InvalidArgument,
        "series.range: required: {start, end}",
      ]);
      expect(
        await code({ query: { case: "geo", value: { module: "mod-disco", range } }, columns: ["x"] }),
      ).toEqual([Code.InvalidArgument, "columns: only events exports take columns"]);
    });
  });

  describe(`export links ${title}`, () => {
    const request: MessageInitShape<typeof CreateExportLinkRequestSchema> = {
      query: {
        case: "series",
        value: { module: "mod-disco", range, interval: Interval.MONTH, groupBy: ["type"] },
      },
    };

    it("download the same CSV as ExportCsv, as an attachment, gzipped when accepted", async () => {
      const before = Math.floor(target.now());
      const link = await client.createExportLink(request);
      expect(link.url).toMatch(/^\/exports\/[\w-]+\.[\w-]+$/);
      expect(timestampMs(link.expiresAt!)).toBeGreaterThanOrEqual(before + LINK_TTL_MS);
      expect(timestampMs(link.expiresAt!)).toBeLessThanOrEqual(target.now() + LINK_TTL_MS);
      expect(LINK_TTL_MS).toBe(15 * 60_000);
      const res = await request_(link.url);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(res.headers.get("content-disposition")).toBe(
        'attachment; filename="mod-disco-series-2026-03-01-2026-05-01.csv"',
      );
      const text = await res.text();
      expect(text).toBe(await exportText({ query: request.query! }));
      const zipped = await request_(link.url, { headers: { "accept-encoding": "gzip, deflate" } });
      expect(zipped.headers.get("content-encoding")).toBe("gzip");
      const bytes = Buffer.from(await zipped.arrayBuffer());
      expect((target.decodes ? bytes : gunzipSync(bytes)).toString()).toBe(text);
    });

    it("refuse an altered link with a readable 403", async () => {
      const link = await client.createExportLink(request);
      const [body, mac] = link.url.slice("/exports/".length).split(".");
      const payload = JSON.parse(Buffer.from(body!, "base64url").toString());
      payload.t = "someone-else";
      const altered = `/exports/${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${mac}`;
      const refused = await request_(altered);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toMatch(/not valid/);
      expect((await request_(`${link.url}x`)).status).toBe(403);
      expect((await request_("/exports/garbage")).status).toBe(403);
    });

    it("refuse an expired link with a readable 403 (where the test controls the clock)", async (ctx) => {
      if (!target.advance) return ctx.skip();
      const link = await client.createExportLink(request);
      const expires = timestampMs(link.expiresAt!);
      target.advance(LINK_TTL_MS + 1);
      const expired = await request_(link.url);
      expect(expired.status).toBe(403);
      expect(await expired.text()).toContain(`expired at ${new Date(expires).toISOString()}`);
    });
  });
}
