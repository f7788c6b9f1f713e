import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { Interval, Operator, TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { routerOptions, routes } from "./routes.ts";
import { testDeps } from "./test-deps.ts";

function client() {
  const deps = testDeps();
  const transport = createRouterTransport((router) => routes(router, deps), { router: routerOptions(deps) });
  return createClient(TelemetryService, transport);
}

const T0 = Date.UTC(2026, 2, 1);

describe("TelemetryService in memory", () => {
  it("records, dedups and counts by day", async () => {
    const c = client();
    const events = [0, 1, 2, 25].map((h, i) => ({
      id: `e${i}`,
      type: "user.joined",
      time: timestampFromMs(T0 + h * 3_600_000),
      data: { org: "org-1", n: i },
    }));
    expect(await c.recordEvents({ module: "sys-account", events })).toMatchObject({
      accepted: 4,
      duplicates: 0,
    });
    expect(await c.recordEvents({ module: "sys-account", events })).toMatchObject({
      accepted: 0,
      duplicates: 4,
    });
    const res = await c.querySeries({
      module: "sys-account",
      range: { start: timestampFromMs(T0), end: timestampFromMs(T0 + 3 * 86_400_000) },
      interval: Interval.DAY,
      filters: [
        { field: "org", op: Operator.EQ, values: [{ kind: { case: "stringValue", value: "org-1" } }] },
      ],
    });
    expect(res.rows.map((r) => r.value)).toEqual([3, 1, 0]);
  });
});

describe("Compact", () => {
  it("merges a module's segments without changing any answer, and needs the admin scope", async () => {
    const { createHash } = await import("node:crypto");
    const hash = (key: string) => createHash("sha256").update(key).digest("hex");
    const deps = testDeps({
      keys: [
        { hash: hash("admin"), tenant: "acme", scopes: ["admin", "read", "ingest"] },
        { hash: hash("reader"), tenant: "acme", scopes: ["read", "ingest"] },
      ],
    });
    const transport = createRouterTransport((router) => routes(router, deps), {
      router: routerOptions(deps),
    });
    const headers = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
    const c = createClient(TelemetryService, transport);
    for (let b = 0; b < 5; b++) {
      const events = Array.from({ length: 20 }, (_, i) => ({
        id: `e${b}-${i}`,
        type: "enrolled",
        time: timestampFromMs(T0 + (b * 20 + i) * 3_600_000),
      }));
      await c.recordEvents({ module: "mod-disco", events }, headers("reader"));
    }
    const query = {
      module: "mod-disco",
      range: { start: timestampFromMs(T0), end: timestampFromMs(T0 + 10 * 86_400_000) },
    };
    const before = await c.querySeries({ ...query, interval: Interval.DAY }, headers("reader"));
    await expect(c.compact({ module: "mod-disco" }, headers("reader"))).rejects.toThrow(/admin/);
    const result = await c.compact({ module: "mod-disco" }, headers("admin"));
    expect(result.partitions).toBe(5);
    expect(result.segmentsAfter).toBeLessThan(result.segmentsBefore);
    expect(await c.querySeries({ ...query, interval: Interval.DAY }, headers("reader"))).toEqual(before);
  });
});
