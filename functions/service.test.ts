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
