/**
 * The tenant-isolation property, shared by the in-process suite and the real-server slice: tenants with
 * look-alike names (prefixes of one another, digits, dashes) record events with the same ids, times and
 * modules; each event carries its tenant's marker. Whatever a tenant's keys ask — series, geo, lists,
 * exports and export links, keys, deletions, other tenants' page tokens and key ids, malformed names —
 * no answer and no error message holds another tenant's marker, name-bearing key id or data.
 */
import { toJsonString } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { expect } from "vitest";
import {
  ListEventsResponseSchema,
  ListKeysResponseSchema,
  QueryGeoResponseSchema,
  QuerySeriesResponseSchema,
  type TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";

type Api = Client<typeof TelemetryService>;

/** Valid tenant names that look alike: prefixes of one another, a digit, a dash more or less. */
export const TENANT_POOL = ["acme", "acme-eu", "acme-e", "acm", "acme0", "a", "acme-eu-1", "0acme", "acmee"];
/** Module names alike in the same way; the case variants are invalid and must be refused, not mapped. */
export const MODULE_POOL = ["mod", "mod-a", "moda", "m", "mod-a-b"];
export const BAD_MODULES = ["Mod", "MOD-A", "mod_a", "mod:a", "../acme/mod", "mod-a?x", "mod-a$"];

const DAY_MS = 86_400_000;
export const T0 = Date.UTC(2026, 4, 1);
export const RANGE = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 4 * DAY_MS) };

export interface World {
  tenants: string[];
  /** Per tenant, per module: how many events. */
  counts: number[][];
  modules: string[];
}

export const worldArb: fc.Arbitrary<World> = fc
  .record({
    tenants: fc.uniqueArray(fc.constantFrom(...TENANT_POOL), { minLength: 2, maxLength: 4 }),
    modules: fc.uniqueArray(fc.constantFrom(...MODULE_POOL), { minLength: 1, maxLength: 3 }),
  })
  .chain(({ tenants, modules }) =>
    fc.record({
      tenants: fc.constant(tenants),
      modules: fc.constant(modules),
      counts: fc.array(
        fc.array(fc.integer({ min: 0, max: 12 }), { minLength: modules.length, maxLength: modules.length }),
        {
          minLength: tenants.length,
          maxLength: tenants.length,
        },
      ),
    }),
  );

/** A string only tenant `t`'s data holds; no marker is a substring of another. */
export const marker = (t: string) => `<own:${t}>`;

/** Events with the same ids and times for every tenant: only the tenant tells them apart. */
export function eventsOf(tenant: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: `e${i}`,
    type: i % 2 ? "user.joined" : "enrolled",
    time: timestampFromMs(T0 + (i % 4) * DAY_MS + i * 1000),
    data: { owner: marker(tenant), n: i, tags: [marker(tenant)] },
    location: { lat: 10 + (i % 3), lon: 20 + (i % 2) },
  }));
}

const others = (world: World, t: number) => world.tenants.filter((_, u) => u !== t);

/** Fails when `text` holds the marker of a tenant other than `t`. */
function clean(world: World, t: number, text: string, what: string) {
  for (const other of others(world, t)) {
    expect(text.includes(marker(other)), `${world.tenants[t]}'s ${what} holds ${other}'s data`).toBe(false);
  }
}

async function errorText(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "";
  } catch (e) {
    return ConnectError.from(e).message;
  }
}

/**
 * Records the world through each tenant's key, then checks every tenant's view.
 * `api(t)` is tenant t's read+ingest(+admin) client; `fetchLink(url)` GETs an export link's CSV.
 */
export async function checkIsolation(
  world: World,
  api: (t: number) => Api,
  fetchLink: (url: string) => Promise<string>,
  options: { deletes?: boolean } = {},
) {
  for (const [t, tenant] of world.tenants.entries()) {
    for (const [m, module] of world.modules.entries()) {
      const n = world.counts[t]![m]!;
      if (n === 0) continue;
      // Same ids and times as other tenants' events: none is a duplicate across tenants.
      expect(await api(t).recordEvents({ module, events: eventsOf(tenant, n) })).toMatchObject({
        accepted: n,
        duplicates: 0,
      });
    }
  }
  const tokens: string[][] = world.tenants.map(() => []);
  for (const [t] of world.tenants.entries()) {
    const c = api(t);
    for (const [m, module] of world.modules.entries()) {
      const n = world.counts[t]![m]!;
      const list = await c.listEvents({ module, range: RANGE, pageSize: 3 });
      clean(world, t, toJsonString(ListEventsResponseSchema, list), "ListEvents");
      if (list.nextPageToken) tokens[t]!.push(list.nextPageToken);
      let all = list.events.length;
      let token = list.nextPageToken;
      while (token) {
        const page = await c.listEvents({ module, range: RANGE, pageSize: 3, pageToken: token });
        clean(world, t, toJsonString(ListEventsResponseSchema, page), "ListEvents page");
        all += page.events.length;
        token = page.nextPageToken;
      }
      expect(all).toBe(n);
      const series = await c.querySeries({ module, range: RANGE, groupBy: ["owner"], pageSize: 2 });
      clean(world, t, toJsonString(QuerySeriesResponseSchema, series), "QuerySeries");
      if (series.nextPageToken) tokens[t]!.push(series.nextPageToken);
      const geo = await c.queryGeo({ module, range: RANGE, cellDegrees: 1 });
      clean(world, t, toJsonString(QueryGeoResponseSchema, geo), "QueryGeo");
      expect(geo.bins.reduce((s, b) => s + b.count, 0)).toBe(n);
      let csv = "";
      for await (const chunk of c.exportCsv({ query: { case: "events", value: { module, range: RANGE } } }))
        csv += new TextDecoder().decode(chunk.data);
      clean(world, t, csv, "ExportCsv");
      expect(csv.split(marker(world.tenants[t]!)).length - 1).toBe(2 * n);
      const link = await c.createExportLink({ query: { case: "events", value: { module, range: RANGE } } });
      const viaLink = await fetchLink(link.url);
      clean(world, t, viaLink, "export link");
      expect(viaLink.split(marker(world.tenants[t]!)).length - 1).toBe(2 * n);
    }
    // Malformed module names are refused, not folded into a look-alike.
    for (const bad of fc.sample(fc.constantFrom(...BAD_MODULES), 2)) {
      const message = await errorText(c.listEvents({ module: bad, range: RANGE }));
      expect(message).toMatch(/^\[invalid_argument\] module: /);
      clean(world, t, message, "error");
    }
    clean(world, t, toJsonString(ListKeysResponseSchema, await c.listKeys({})), "ListKeys");
  }
  // Another tenant's page tokens and key ids are refused, and the refusals say nothing about it.
  for (const [t] of world.tenants.entries()) {
    for (const [u] of world.tenants.entries()) {
      if (u === t) continue;
      for (const token of tokens[u]!.slice(0, 1)) {
        const message = await errorText(
          api(t).listEvents({ module: world.modules[0]!, range: RANGE, pageSize: 3, pageToken: token }),
        );
        expect(message).not.toBe("");
        clean(world, t, message, "page-token error");
        for (const name of others(world, t))
          expect(message).not.toContain(name.length > 4 ? name : `"${name}"`);
      }
      const theirs = (await api(u).listKeys({})).keys[0];
      if (theirs) {
        const message = await errorText(api(t).revokeKey({ id: theirs.id }));
        expect(message).toMatch(/^\[not_found\]/);
      }
    }
  }
  if (!options.deletes) return;
  // A deletion by one tenant leaves every other tenant's data whole.
  const before = await Promise.all(
    world.tenants.map((_, t) =>
      Promise.all(world.modules.map((module) => api(t).queryGeo({ module, range: RANGE }))),
    ),
  );
  await api(0).deleteData({ allModules: true });
  for (const [t] of world.tenants.entries()) {
    for (const [m, module] of world.modules.entries()) {
      const geo = await api(t).queryGeo({ module, range: RANGE });
      if (t === 0) expect(geo.bins).toEqual([]);
      else expect(geo.bins).toEqual(before[t]![m]!.bins);
    }
  }
}
