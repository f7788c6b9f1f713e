/**
 * The TelemetryService implementation: authorise, validate, call the store, shape the response and its
 * page token. Runtime-neutral: the same object serves Node (Hono and connect-node) and Workers.
 */
import { clone, type DescMessage, type MessageShape, toJsonString } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ListEventsRequestSchema,
  QueryGeoRequestSchema,
  QuerySeriesRequestSchema,
  type TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { compactModule } from "../store/compaction.ts";
import { invalidArgument } from "../store/errors.ts";
import type { EventStore } from "../store/event-store.ts";
import { type ExportAggregations, exportCsv } from "../store/export.ts";
import { compareBins, queryGeo } from "../store/geo-query.ts";
import { type EventCursor, listEvents } from "../store/list-events.ts";
import { compareGroups, querySeries } from "../store/series.ts";
import { adminService } from "./admin-service.ts";
import type { Authenticator, Scope } from "./auth.ts";
import { createLink } from "./export-link.ts";
import type { Limits } from "./limits.ts";
import {
  applyIngestPolicy,
  enforceExportFloor,
  enforceGeoFloor,
  geoFloor,
  type ModulePolicies,
} from "./module-policy.ts";
import { type PageState, type PageTokens, queryScope } from "./page-token.ts";
import { timestampMs, validateModule, validateRecord } from "./validate-events.ts";
import { validateExport } from "./validate-export.ts";
import { pageSize, validateGeoQuery, validateList, validateSeries } from "./validate-query.ts";

export interface ServiceDeps {
  store: EventStore;
  auth: Authenticator;
  tokens: PageTokens;
  limits: Limits;
  /** Per-module retention, location rounding and geo floors (module-policy.ts). */
  modules?: ModulePolicies;
  /**
   * How QuerySeries and QueryGeo aggregate, ListEvents pages are found and events exports are written:
   * in one go unless given (Workers: in steps, worker-steps.ts).
   */
  aggregate?: Aggregations;
}

export type Aggregations = ExportAggregations;

type SeriesCursor = { b: number; g: string[] };
type GeoCursor = { n: number; y: number; x: number };

export function telemetryService(deps: ServiceDeps): ServiceImpl<typeof TelemetryService> {
  const { store, auth, tokens, limits } = deps;
  const policy = (module: string) => deps.modules?.[module];
  const now = () => store.now();

  /** The tenant, the snapshot instant and the cursor of a paged query. */
  async function begin<C, S extends DescMessage>(
    ctx: HandlerContext,
    scope: Scope,
    rpc: string,
    schema: S,
    req: MessageShape<S> & { pageToken: string },
  ) {
    const principal = await auth.authorize(ctx.requestHeader, scope);
    const { tenant } = principal;
    const bare = clone(schema, req) as MessageShape<S> & { pageToken: string; pageSize: number };
    bare.pageToken = "";
    bare.pageSize = 0;
    const tokenScope = await queryScope(tenant, rpc, toJsonString(schema, bare));
    const state: PageState<C> | undefined = req.pageToken
      ? await tokens.open<C>(tokenScope, req.pageToken)
      : undefined;
    return { tenant, principal, tokenScope, asOf: state?.asOf ?? now(), cursor: state?.cursor };
  }

  return {
    ...adminService(deps),
    async recordEvents(req, ctx) {
      const { tenant } = await auth.authorize(ctx.requestHeader, "ingest");
      const events = validateRecord(req, limits, Math.floor(now()));
      applyIngestPolicy(events, policy(req.module), store.retainedFrom(req.module));
      return store.record(tenant, req.module, events);
    },

    async querySeries(req, ctx) {
      const q = await begin<SeriesCursor, typeof QuerySeriesRequestSchema>(
        ctx,
        "read",
        "QuerySeries",
        QuerySeriesRequestSchema,
        req,
      );
      const spec = validateSeries(req, q.tenant, q.asOf, limits);
      const size = pageSize(req.pageSize, limits.defaultPageSize, limits.maxPageSize);
      const result = await (deps.aggregate?.series(spec, limits) ?? querySeries(store, spec, limits));
      const groups = result.groups.length;
      const total = result.starts.length * groups;
      let index = 0;
      if (q.cursor) {
        const b = upperIndex(result.starts.length, (i) => result.starts[i]! - q.cursor!.b);
        const exact = b > 0 && result.starts[b - 1] === q.cursor.b;
        const g = upperIndex(groups, (i) => compareGroups(result.groups[i]!, q.cursor!.g));
        index = exact ? (b - 1) * groups + g : b * groups;
      }
      const end = Math.min(total, index + size);
      const rows = [];
      for (let i = index; i < end; i++) {
        const b = Math.floor(i / groups);
        const g = i % groups;
        rows.push({
          bucketStart: timestampFromMs(result.starts[b]!),
          group: result.groups[g]!,
          value: result.value(b, g),
        });
      }
      const last = end - 1;
      const nextPageToken =
        end < total
          ? await tokens.sign<SeriesCursor>(q.tokenScope, {
              asOf: q.asOf,
              cursor: { b: result.starts[Math.floor(last / groups)]!, g: result.groups[last % groups]! },
            })
          : "";
      return { rows, nextPageToken };
    },

    async queryGeo(req, ctx) {
      const q = await begin<GeoCursor, typeof QueryGeoRequestSchema>(
        ctx,
        "read",
        "QueryGeo",
        QueryGeoRequestSchema,
        req,
      );
      enforceGeoFloor(req, geoFloor(q.principal, policy(req.module)));
      const spec = validateGeoQuery(req, q.tenant, q.asOf, limits);
      const size = pageSize(req.pageSize, limits.defaultPageSize, limits.maxPageSize);
      const bins = await (deps.aggregate?.geo(spec) ?? queryGeo(store, spec));
      const c = q.cursor;
      const from = c
        ? upperIndex(bins.length, (i) => compareBins(bins[i]!, { count: c.n, cellLat: c.y, cellLon: c.x }))
        : 0;
      const page = bins.slice(from, from + size);
      const last = page[page.length - 1];
      const nextPageToken =
        last && from + size < bins.length
          ? await tokens.sign<GeoCursor>(q.tokenScope, {
              asOf: q.asOf,
              cursor: { n: last.count, y: last.cellLat, x: last.cellLon },
            })
          : "";
      return { bins: page.map((b) => ({ lat: b.lat, lon: b.lon, count: b.count })), nextPageToken };
    },

    async *exportCsv(req, ctx) {
      const principal = await auth.authorize(ctx.requestHeader, "read");
      const { tenant } = principal;
      enforceExportFloor(req, principal, deps.modules);
      const valid = validateExport(req, tenant, now(), limits);
      const encoder = new TextEncoder();
      for await (const text of exportCsv(store, valid.what, {
        bom: valid.bom,
        limits,
        aggregate: deps.aggregate,
      })) {
        yield { data: encoder.encode(text) };
      }
    },

    async createExportLink(req, ctx) {
      const principal = await auth.authorize(ctx.requestHeader, "read");
      const { tenant } = principal;
      // Applied before the link is sealed, so the link carries the floor of the key that made it.
      enforceExportFloor(req, principal, deps.modules);
      const at = now();
      validateExport(req, tenant, at, limits);
      const link = await createLink(deps, principal, req, at);
      return { url: link.url, expiresAt: timestampFromMs(link.expires) };
    },

    async compact(req, ctx) {
      const { tenant } = await auth.authorize(ctx.requestHeader, "admin");
      const module = validateModule(req.module);
      let range: { start: number; end: number } | undefined;
      if (req.range) {
        if (!req.range.start || !req.range.end) throw invalidArgument("range", "needs both start and end");
        range = {
          start: timestampMs(req.range.start, "range.start"),
          end: timestampMs(req.range.end, "range.end"),
        };
        if (range.end <= range.start) throw invalidArgument("range.end", "must be after range.start");
      }
      return compactModule(store, tenant, module, range);
    },

    async listEvents(req, ctx) {
      const q = await begin<EventCursor, typeof ListEventsRequestSchema>(
        ctx,
        "read",
        "ListEvents",
        ListEventsRequestSchema,
        req,
      );
      const spec = validateList(req, q.tenant, q.asOf, limits);
      const size = pageSize(req.pageSize, limits.defaultEventsPageSize, limits.maxEventsPageSize);
      const { events, more } = await (deps.aggregate?.list?.(spec, size, q.cursor) ??
        listEvents(store, spec, size, q.cursor));
      const hideLocation = geoFloor(q.principal, policy(req.module)) > 0;
      const last = events[events.length - 1];
      const nextPageToken =
        more && last
          ? await tokens.sign<EventCursor>(q.tokenScope, {
              asOf: q.asOf,
              cursor: { time: last.time, id: last.id },
            })
          : "";
      return {
        events: events.map((e) => ({
          id: e.id,
          type: e.type,
          time: timestampFromMs(e.time),
          data: e.data,
          ...(Number.isNaN(e.lat) || hideLocation ? {} : { location: { lat: e.lat, lon: e.lon } }),
        })),
        nextPageToken,
      };
    },
  };
}

/** The number of leading items i in [0, n) with cmp(i) ≤ 0 (items are sorted by cmp). */
function upperIndex(n: number, cmp: (i: number) => number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(mid) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
