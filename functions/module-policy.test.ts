/**
 * Location privacy and retention at the API: coordinates rounded before they are stored, events older than
 * the retention refused, and QueryGeo's floor raised by the module's and the key's configuration —
 * through QueryGeo, ExportCsv and export links alike.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { sha256Hex } from "../store/key-records.ts";
import { createApp } from "./app.ts";
import { checkPolicies } from "./module-policy.ts";
import { routerOptions, routes } from "./routes.ts";
import type { ServiceDeps } from "./service.ts";
import { testDeps } from "./test-deps.ts";

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2026, 2, 1);
const range = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 5 * DAY_MS) };

function clientOf(deps: ServiceDeps, key?: string) {
  return createClient(
    TelemetryService,
    createRouterTransport((router) => routes(router, deps), {
      router: routerOptions(deps),
      transport: {
        interceptors: key
          ? [
              (next) => (req) => {
                req.header.set("authorization", `Bearer ${key}`);
                return next(req);
              },
            ]
          : [],
      },
    }),
  );
}

describe("location rounding", () => {
  it("stores coordinates rounded to the module's decimals, and only in that module", async () => {
    const deps = testDeps({ modules: { "mod-disco": { locationDecimals: 2 } } });
    const c = clientOf(deps);
    const event = {
      id: "e1",
      type: "enrolled",
      time: timestampFromMs(T0 + 1000),
      location: { lat: 52.520_008, lon: -13.404_954 },
    };
    await c.recordEvents({ module: "mod-disco", events: [event] });
    await c.recordEvents({ module: "sys-account", events: [event] });
    const rounded = await c.listEvents({ module: "mod-disco", range });
    expect(rounded.events[0]?.location).toMatchObject({ lat: 52.52, lon: -13.4 });
    const exact = await c.listEvents({ module: "sys-account", range });
    expect(exact.events[0]?.location).toMatchObject({ lat: 52.520_008, lon: -13.404_954 });
    // The precise point is not on disk at all.
    const keys = await deps.store.storage.getKeys("v1:default:mod-disco");
    const bytes = new Uint8Array((await deps.store.storage.getItemRaw(keys[0]!)) as Uint8Array);
    const f64 = new Float64Array(1);
    f64[0] = 52.520_008;
    const needle = new Uint8Array(f64.buffer);
    const hay = Buffer.from(bytes);
    expect(hay.indexOf(Buffer.from(needle))).toBe(-1);
  });
});

describe("retention at ingest", () => {
  it("refuses events older than the retention, naming the first", async () => {
    const now = T0 + 40 * DAY_MS;
    const c = clientOf(testDeps({ now: () => now, modules: { "mod-disco": { retentionDays: 30 } } }));
    const ok = { type: "x", time: timestampFromMs(now - 29 * DAY_MS) };
    const old = { type: "x", time: timestampFromMs(now - 31 * DAY_MS) };
    const error = await c
      .recordEvents({ module: "mod-disco", events: [ok, old] })
      .catch((e) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.InvalidArgument });
    expect((error as ConnectError).rawMessage).toMatch(
      /^events\[1\]\.time: older than this module's retention of 30 days/,
    );
    expect(await c.recordEvents({ module: "sys-account", events: [old] })).toMatchObject({ accepted: 1 });
  });
});

describe("geo floors", () => {
  async function seeded() {
    const storage = createStorage({ driver: memoryDriver() });
    const keys = [
      {
        name: "analyst",
        hash: await sha256Hex("k-analyst"),
        tenant: "acme",
        scopes: ["read" as const, "ingest" as const],
      },
      {
        name: "public",
        hash: await sha256Hex("k-public"),
        tenant: "acme",
        scopes: ["read" as const],
        minGeoCount: 5,
      },
    ];
    const deps = testDeps({ storage, keys, modules: { "sys-account": { minGeoCount: 3 } } });
    // Cells with 1, 2, 4 and 6 events, in both modules.
    const events = [1, 2, 4, 6].flatMap((n, cell) =>
      Array.from({ length: n }, (_, i) => ({
        id: `c${cell}-${i}`,
        type: "x",
        time: timestampFromMs(T0 + 1000 + i),
        location: { lat: cell * 10 + 0.5, lon: 0.5 },
      })),
    );
    const analyst = clientOf(deps, "k-analyst");
    await analyst.recordEvents({ module: "mod-disco", events });
    await analyst.recordEvents({ module: "sys-account", events });
    return { deps, analyst, pub: clientOf(deps, "k-public") };
  }
  const counts = (bins: { count: number }[]) => bins.map((b) => b.count);

  it("raises minCount to the key's floor and the module's, whatever the request asks", async () => {
    const { analyst, pub } = await seeded();
    const geo = { range, cellDegrees: 1, minCount: 0 };
    expect(counts((await analyst.queryGeo({ ...geo, module: "mod-disco" })).bins)).toEqual([6, 4, 2, 1]);
    expect(counts((await analyst.queryGeo({ ...geo, module: "sys-account" })).bins)).toEqual([6, 4]);
    expect(counts((await pub.queryGeo({ ...geo, module: "mod-disco" })).bins)).toEqual([6]);
    expect(counts((await pub.queryGeo({ ...geo, module: "mod-disco", minCount: 1 })).bins)).toEqual([6]);
    // A larger request floor still applies.
    expect(counts((await analyst.queryGeo({ ...geo, module: "mod-disco", minCount: 5 })).bins)).toEqual([6]);
  });

  it("applies the floor to ExportCsv and to export links (the link carries its maker's floor)", async () => {
    const { deps, pub } = await seeded();
    const query = {
      case: "geo" as const,
      value: { module: "mod-disco", range, cellDegrees: 1, minCount: 1 },
    };
    let text = "";
    for await (const chunk of pub.exportCsv({ query })) text += new TextDecoder().decode(chunk.data);
    expect(
      text
        .trim()
        .split("\n")
        .slice(1)
        .map((r) => Number(r.split(",")[2])),
    ).toEqual([6]);
    const link = await pub.createExportLink({ query });
    const res = await createApp(deps).request(link.url);
    const rows = (await res.text()).trim().split("\n").slice(1);
    expect(rows.map((r) => Number(r.split(",")[2]))).toEqual([6]);
  });
});

describe("exact locations under a floor", () => {
  it("are left out of ListEvents, and event exports are refused, for a floored key", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const keys = [
      {
        name: "rw",
        hash: await sha256Hex("k-rw"),
        tenant: "acme",
        scopes: ["read" as const, "ingest" as const],
      },
      {
        name: "pub",
        hash: await sha256Hex("k-pub"),
        tenant: "acme",
        scopes: ["read" as const],
        minGeoCount: 5,
      },
    ];
    const deps = testDeps({ storage, keys });
    const event = {
      id: "e1",
      type: "x",
      time: timestampFromMs(T0 + 1000),
      location: { lat: 52.52, lon: 13.4 },
    };
    await clientOf(deps, "k-rw").recordEvents({ module: "m", events: [event] });
    const rw = clientOf(deps, "k-rw");
    const pub = clientOf(deps, "k-pub");
    expect((await rw.listEvents({ module: "m", range })).events[0]?.location).toBeDefined();
    const listed = (await pub.listEvents({ module: "m", range })).events;
    expect(listed).toHaveLength(1);
    expect(listed[0]?.location).toBeUndefined();
    // Event exports are exact points: refused under a floor, as CSV and as a link.
    const query = { case: "events" as const, value: { module: "m", range } };
    const refusal = async (p: AsyncIterable<unknown> | Promise<unknown>) => {
      try {
        if (Symbol.asyncIterator in p) for await (const _ of p);
        else await p;
        return "ok";
      } catch (e) {
        return ConnectError.from(e).code;
      }
    };
    expect(await refusal(pub.exportCsv({ query }))).toBe(Code.PermissionDenied);
    expect(await refusal(pub.createExportLink({ query }))).toBe(Code.PermissionDenied);
    const rwLink = await (await createApp(deps).request((await rw.createExportLink({ query })).url)).text();
    expect(rwLink).toContain("52.52");
  });
});

describe("checkPolicies", () => {
  it("names the bad setting", () => {
    expect(() => checkPolicies({ Mod: {} }, "c.json")).toThrow("modules.Mod: not a module name");
    expect(() => checkPolicies({ m: { retention: 3 } }, "c.json")).toThrow(
      'modules.m: unknown setting "retention"',
    );
    expect(() => checkPolicies({ m: { retentionDays: 0 } }, "c.json")).toThrow(
      "modules.m.retentionDays: must be a whole number from 1",
    );
    expect(() => checkPolicies({ m: { locationDecimals: 2.5 } }, "c.json")).toThrow(
      "modules.m.locationDecimals",
    );
    expect(checkPolicies({ m: { retentionDays: 3, locationDecimals: 2, minGeoCount: 5 } }, "c.json")).toEqual(
      {
        m: { retentionDays: 3, locationDecimals: 2, minGeoCount: 5 },
      },
    );
  });
});
