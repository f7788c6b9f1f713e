/**
 * What the Worker shares with the Node server beyond the API suites: the dashboard at `/`, API keys kept in
 * the bucket (created and revoked through the admin RPCs, refused at once), segments sealed with
 * TALLY_ENCRYPTION_KEYS, and per-module policies from TALLY_MODULES.
 */
import { createHash } from "node:crypto";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TelemetryService } from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { BASE_URL, startWorker, type TestWorker } from "../worker-miniflare.ts";

const BOOT = "bootstrap-admin-key-for-this-test";
const T = Date.UTC(2026, 5, 1, 12);
let worker: TestWorker;

beforeAll(async () => {
  worker = await startWorker({
    bindings: {
      TALLY_KEYS: JSON.stringify([
        {
          hash: createHash("sha256").update(BOOT).digest("hex"),
          tenant: "acme",
          scopes: ["admin", "ingest", "read"],
        },
      ]),
      TALLY_ENCRYPTION_KEYS: `k1=${Buffer.alloc(32, 7).toString("base64")}`,
      TALLY_MODULES: JSON.stringify({ "mod-disco": { locationDecimals: 1 } }),
    },
  });
});
afterAll(() => worker.dispose());

const client = (key: string) => createClient(TelemetryService, worker.transport("connect", { key }));

describe("the Worker", () => {
  it("refuses plain gRPC as unimplemented in a trailers-only answer, and serves gRPC-web", async () => {
    for (const type of [
      "application/grpc",
      "application/grpc+proto",
      "application/grpc+json; charset=utf-8",
    ]) {
      const res = await worker.fetch(`${BASE_URL}/telemetry.v1.TelemetryService/ListKeys`, {
        method: "POST",
        headers: { "content-type": type, te: "trailers" },
        body: new Uint8Array(5),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("grpc-status")).toBe("12");
      expect(decodeURIComponent(res.headers.get("grpc-message") ?? "")).toMatch(/use Connect or gRPC-web/);
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    }
    const web = createClient(TelemetryService, worker.transport("grpc-web", { key: BOOT }));
    expect((await web.listKeys({})).keys).toEqual([]);
  });

  it("serves the dashboard from its bundle, hashed files cached for good", async () => {
    const page = await worker.fetch(`${BASE_URL}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const html = await page.text();
    const script = /src="\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await worker.fetch(`${BASE_URL}/${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await js.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    expect((await worker.fetch(`${BASE_URL}/assets/missing.js`)).status).toBe(404);
  });

  it("keeps API keys in the bucket: a created key works, a revoked one is refused at once", async () => {
    const admin = client(BOOT);
    const created = await admin.createKey({ name: "ingester", scopes: ["ingest", "read"] });
    expect(created.info?.tenant).toBe("acme");
    const ingester = client(created.key);
    await ingester.recordEvents({
      module: "mod-a",
      events: [{ id: "k1", type: "x", time: timestampFromMs(T), data: {} }],
    });
    await admin.revokeKey({ id: created.info!.id });
    const refused = await ingester
      .recordEvents({ module: "mod-a", events: [{ id: "k2", type: "x", time: timestampFromMs(T) }] })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(refused?.code).toBe(Code.Unauthenticated);
  });

  it("seals segments in R2 and rounds locations by module policy", async () => {
    await client(BOOT).recordEvents({
      module: "mod-disco",
      events: [
        {
          id: "e1",
          type: "enrolled",
          time: timestampFromMs(T),
          data: { marker: "worker-plaintext-marker" },
          location: { lat: 52.5234, lon: 13.4114 },
        },
      ],
    });
    const bucket = await worker.mf.getR2Bucket("TALLY_BUCKET");
    const listed = await bucket.list({ prefix: "v1/acme/mod-disco/" });
    expect(listed.objects.length).toBe(1);
    const stored = new Uint8Array(await (await bucket.get(listed.objects[0]!.key))!.arrayBuffer());
    expect(new TextDecoder().decode(stored.subarray(0, 4))).toBe("TENC");
    expect(Buffer.from(stored).includes("worker-plaintext-marker")).toBe(false);
    const { events } = await client(BOOT).listEvents({
      module: "mod-disco",
      range: { start: timestampFromMs(T - 1000), end: timestampFromMs(T + 1000) },
    });
    expect(events.map((e) => [e.id, e.location?.lat, e.location?.lon])).toEqual([["e1", 52.5, 13.4]]);
  });
});
