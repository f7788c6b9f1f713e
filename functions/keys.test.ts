import { toJsonString } from "@bufbuild/protobuf";
/**
 * API keys kept in the store: created through CreateKey (shown once, hashed at rest), listed without the
 * key, scoped, revoked at once — also for another process sharing the store — and never usable across
 * tenants. Configuration keys stay the bootstrap.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { ListKeysResponseSchema, TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { constantTimeEqual, sha256Hex } from "../store/key-records.ts";
import { createApp } from "./app.ts";
import { routerOptions, routes } from "./routes.ts";
import type { ServiceDeps } from "./service.ts";
import { testDeps } from "./test-deps.ts";

const T0 = Date.UTC(2026, 2, 1);
const range = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 86_400_000) };
const events = [{ id: "e1", type: "t", time: timestampFromMs(T0 + 1000), data: { n: 1 } }];

function clientOf(deps: ServiceDeps, key?: string) {
  const transport = createRouterTransport((router) => routes(router, deps), {
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
  });
  return createClient(TelemetryService, transport);
}

async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

async function bootstrapped() {
  const storage = createStorage({ driver: memoryDriver() });
  const adminKey = "bootstrap-admin-key";
  const keys = [
    { name: "boot", hash: await sha256Hex(adminKey), tenant: "acme", scopes: ["admin" as const] },
  ];
  return { storage, keys, deps: testDeps({ storage, keys }), adminKey };
}

describe("API keys in the store", () => {
  it("creates a key shown once, stores only its hash, and the key works with exactly its scopes", async () => {
    const { storage, deps, adminKey } = await bootstrapped();
    const admin = clientOf(deps, adminKey);
    const created = await admin.createKey({ name: "ingester", scopes: ["ingest"] });
    expect(created.key).toMatch(/^tly_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.info).toMatchObject({ tenant: "acme", scopes: ["ingest"], name: "ingester" });
    // At rest: the hash, never the key.
    const stored = JSON.stringify(await storage.getItem(`sys:apikeys:${created.info!.id}`));
    expect(stored).not.toContain(created.key.slice(22));
    expect(stored).toContain(await sha256Hex(created.key));
    const listed = await admin.listKeys({});
    expect(toJsonString(ListKeysResponseSchema, listed)).not.toContain(created.key.slice(22));
    expect(listed.keys.map((k) => k.id)).toEqual([created.info!.id]);

    const ingester = clientOf(deps, created.key);
    expect(await ingester.recordEvents({ module: "m", events })).toMatchObject({ accepted: 1 });
    expect(await codeOf(ingester.listEvents({ module: "m", range }))).toBe(Code.PermissionDenied);
    expect(await codeOf(ingester.listKeys({}))).toBe(Code.PermissionDenied);
    // One character off, same id: unknown.
    const last = created.key.at(-1) === "A" ? "B" : "A";
    expect(
      await codeOf(clientOf(deps, created.key.slice(0, -1) + last).recordEvents({ module: "m", events })),
    ).toBe(Code.Unauthenticated);
  });

  it("revocation holds at once, on this server and on another sharing the store", async () => {
    const { storage, keys, deps, adminKey } = await bootstrapped();
    const other = testDeps({ storage, keys }); // another process on the same data
    const { key, info } = await clientOf(deps, adminKey).createKey({ scopes: ["read", "ingest"] });
    const here = clientOf(deps, key);
    const there = clientOf(other, key);
    expect(await codeOf(there.listEvents({ module: "m", range }))).toBe("ok");
    expect(await codeOf(here.recordEvents({ module: "m", events }))).toBe("ok");
    const revoked = await clientOf(other, adminKey).revokeKey({ id: info!.id });
    expect(revoked.info?.revokedAt).toBeDefined();
    const error = await here.listEvents({ module: "m", range }).catch((e) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.Unauthenticated, rawMessage: "this API key was revoked" });
    expect(await codeOf(there.recordEvents({ module: "m", events }))).toBe(Code.Unauthenticated);
    expect((await clientOf(deps, adminKey).listKeys({})).keys).toEqual([]);
    expect((await clientOf(deps, adminKey).listKeys({ includeRevoked: true })).keys).toHaveLength(1);
  });

  it("revocation also stops the export links the key made, on every server; a configured key's live on", async () => {
    const { storage, keys: bootKeys, adminKey } = await bootstrapped();
    const reader = {
      name: "reader",
      hash: await sha256Hex("config-reader"),
      tenant: "acme",
      scopes: ["read" as const],
    };
    const keys = [...bootKeys, reader];
    const [deps, other] = [testDeps({ storage, keys }), testDeps({ storage, keys })];
    const { key, info } = await clientOf(deps, adminKey).createKey({ scopes: ["read", "ingest"] });
    await clientOf(deps, key).recordEvents({ module: "m", events });
    const query = { case: "events" as const, value: { module: "m", range } };
    const { url } = await clientOf(deps, key).createExportLink({ query });
    const configured = (await clientOf(deps, "config-reader").createExportLink({ query })).url;
    const download = (d: ServiceDeps, link: string) => createApp(d).request(link);
    for (const d of [deps, other]) {
      const res = await download(d, url);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("e1,t,");
    }
    await clientOf(other, adminKey).revokeKey({ id: info!.id });
    for (const d of [deps, other]) {
      const res = await download(d, url);
      expect(res.status).toBe(403);
      expect(await res.text()).toBe(
        "The API key that made this export link was revoked. Create a new link.\n",
      );
      expect((await download(d, configured)).status).toBe(200);
    }
  });

  it("keeps tenants apart: keys act in their own tenant, and another tenant's key id is not found", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const keys = [
      { name: "a", hash: await sha256Hex("admin-acme"), tenant: "acme", scopes: ["admin" as const] },
      { name: "b", hash: await sha256Hex("admin-acme-eu"), tenant: "acme-eu", scopes: ["admin" as const] },
    ];
    const deps = testDeps({ storage, keys });
    const a = clientOf(deps, "admin-acme");
    const b = clientOf(deps, "admin-acme-eu");
    const ka = await a.createKey({ scopes: ["ingest", "read"] });
    const kb = await b.createKey({ scopes: ["ingest", "read"] });
    expect(ka.info?.tenant).toBe("acme");
    expect(kb.info?.tenant).toBe("acme-eu");
    expect((await a.listKeys({})).keys.map((k) => k.id)).toEqual([ka.info!.id]);
    const error = await a.revokeKey({ id: kb.info!.id }).catch((e) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.NotFound });
    expect(String(error)).not.toContain("acme-eu");
    await clientOf(deps, ka.key).recordEvents({ module: "m", events });
    expect((await clientOf(deps, kb.key).listEvents({ module: "m", range })).events).toEqual([]);
    expect((await clientOf(deps, ka.key).listEvents({ module: "m", range })).events).toHaveLength(1);
  });

  it("an open (keyless, loopback) server creates its first key and then requires keys", async () => {
    const deps = testDeps();
    const open = clientOf(deps);
    expect(await codeOf(open.recordEvents({ module: "m", events }))).toBe("ok");
    const { key, info } = await open.createKey({ scopes: ["admin", "read"], name: "first" });
    expect(info?.tenant).toBe("default");
    expect(await codeOf(open.listEvents({ module: "m", range }))).toBe(Code.Unauthenticated);
    expect((await clientOf(deps, key).listEvents({ module: "m", range })).events).toHaveLength(1);
  });

  it("refuses bad requests naming the field", async () => {
    const { deps, adminKey } = await bootstrapped();
    const admin = clientOf(deps, adminKey);
    for (const [req, message] of [
      [{ scopes: [] }, "scopes: at least one of ingest, read, admin"],
      [{ scopes: ["read", "write"] }, 'scopes[1]: "write" is not one of ingest, read, admin'],
      [{ scopes: ["read"], name: "x".repeat(300) }, "name: 300 characters; at most 256"],
      [{ scopes: ["read"], minGeoCount: -1 }, "minGeoCount: must not be negative"],
    ] as [{ scopes: string[]; name?: string; minGeoCount?: number }, string][]) {
      const error = await admin.createKey(req).catch((e) => ConnectError.from(e));
      expect(error).toMatchObject({ code: Code.InvalidArgument, rawMessage: message });
    }
    const error = await admin.revokeKey({ id: "aaaaaaaaaaaaaaaa" }).catch((e) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.NotFound });
  });
});

describe("a key under a geo floor", () => {
  it("cannot create a key that escapes its floor (issue #7: keys that should never see small cells)", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const keys = [
      {
        name: "floored admin",
        hash: await sha256Hex("floored-admin"),
        tenant: "acme",
        scopes: ["admin" as const, "ingest" as const],
        minGeoCount: 5,
      },
    ];
    const deps = testDeps({ storage, keys });
    const admin = clientOf(deps, "floored-admin");
    const lower = await admin.createKey({ scopes: ["read"], minGeoCount: 0 });
    expect(lower.info?.minGeoCount).toBe(5);
    const higher = await admin.createKey({ scopes: ["read"], minGeoCount: 9 });
    expect(higher.info?.minGeoCount).toBe(9);
    // The created key answers QueryGeo with the floor: a cell of one event stays hidden.
    await admin.recordEvents({
      module: "mod-a",
      events: [{ ...events[0]!, location: { lat: 52.5, lon: 13.4 } }],
    });
    const geo = await clientOf(deps, lower.key).queryGeo({
      module: "mod-a",
      range,
      cellDegrees: 1,
      minCount: 1,
    });
    expect(geo.bins).toEqual([]);
  });
});

describe("constantTimeEqual", () => {
  it("is equality", () => {
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "ab")).toBe(false);
    expect(constantTimeEqual("", "")).toBe(true);
    expect(constantTimeEqual("a", "")).toBe(false);
  });
});
