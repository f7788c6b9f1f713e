/**
 * Audit of issues 6 (Workers and R2) and 7 (reliability and data protection) against their texts, for what
 * the other suites did not pin down. Issue 6: "`npm run start:worker` answers the same Connect requests as
 * `npm start`" — also under a configuration with module policies and encryption at rest, which
 * docs/configuration.md says start:worker passes to the Worker as bindings.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { checkIsolation, worldArb } from "./isolation-world.ts";
import { callJson, type ServerProcess, startServer } from "./server-process.ts";
import { BASE_URL, startWorker, type TestWorker } from "./worker-miniflare.ts";

const dirs: string[] = [];
const servers: ServerProcess[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tally-audit67-"));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Every file under `dir`, read whole (the stores here hold a few KiB). */
function allBytes(dir: string): Buffer {
  const parts: Buffer[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else parts.push(readFileSync(path));
    }
  };
  walk(dir);
  return Buffer.concat(parts);
}

const MARKER = "plaintext-marker-audit67";
const RANGE = { start: "2026-03-01T00:00:00Z", end: "2026-03-02T00:00:00Z" };
const EVENTS = Array.from({ length: 12 }, (_, i) => ({
  id: `e${i}`,
  type: "enrolled",
  time: `2026-03-01T${String(i).padStart(2, "0")}:00:00Z`,
  data: { note: MARKER, n: i },
  location: { lat: 52.123456 + i / 1000, lon: 13.387654 },
}));

describe("npm run start:worker takes npm start's configuration (modules, encryption)", () => {
  let node: ServerProcess;
  let worker: ServerProcess;
  let nodeDir: string;
  let workerDir: string;
  beforeAll(async () => {
    const config = join(tempDir(), "tally.config.json");
    writeFileSync(
      config,
      JSON.stringify({ modules: { "mod-round": { locationDecimals: 1 }, "mod-floor": { minGeoCount: 3 } } }),
    );
    const env = {
      TALLY_CONFIG: config,
      TALLY_ENCRYPTION_KEYS: `k1=${randomBytes(32).toString("base64")}`,
    };
    nodeDir = tempDir();
    workerDir = tempDir();
    [node, worker] = await Promise.all([
      startServer({ ...env, DATA_DIR: nodeDir }),
      startServer({ ...env, DATA_DIR: workerDir, COMPACT_EVERY_MS: "3600000" }, "scripts/start-worker.ts"),
    ]);
    servers.push(node, worker);
  }, 120_000);

  it("rounds locations and floors geo cells as npm start does", async () => {
    const requests: [string, unknown][] = [
      ["RecordEvents", { module: "mod-round", events: EVENTS }],
      ["RecordEvents", { module: "mod-floor", events: EVENTS }],
      ["ListEvents", { module: "mod-round", range: RANGE, pageSize: 3 }],
      ["ListEvents", { module: "mod-floor", range: RANGE, pageSize: 3 }],
      ["QueryGeo", { module: "mod-floor", range: RANGE, cellDegrees: 0.001, minCount: 1 }],
      ["QueryGeo", { module: "mod-floor", range: RANGE, cellDegrees: 1, minCount: 1 }],
    ];
    for (const [method, body] of requests) {
      // Page tokens differ: each server signs its own.
      const [a, b] = [await callJson(node.url, method, body), await callJson(worker.url, method, body)].map(
        (r) => ({
          method,
          ...r,
          body: {
            ...r.body,
            ...("nextPageToken" in r.body ? { nextPageToken: r.body.nextPageToken !== "" } : {}),
          },
        }),
      );
      expect(b).toEqual(a);
    }
    const events = async (module: string) =>
      (await callJson(worker.url, "ListEvents", { module, range: RANGE, pageSize: 1 })).body.events as {
        location?: unknown;
      }[];
    expect((await events("mod-round"))[0]!.location).toEqual({ lat: 52.1, lon: 13.4 });
    expect((await events("mod-floor"))[0]!.location).toBeUndefined();
    const geo = async (cellDegrees: number) =>
      (
        await callJson(worker.url, "QueryGeo", {
          module: "mod-floor",
          range: RANGE,
          cellDegrees,
          minCount: 1,
        })
      ).body.bins as { count: number }[];
    expect(await geo(0.001)).toEqual([]);
    expect((await geo(1)).map((b) => Number(b.count))).toEqual([12]);
  });

  it("seals what it stores: no event text in the files under DATA_DIR", () => {
    expect(allBytes(nodeDir).includes(MARKER)).toBe(false);
    expect(allBytes(workerDir).includes(MARKER)).toBe(false);
    expect(allBytes(workerDir).length).toBeGreaterThan(0);
  });
});

const sha256 = async (key: string) =>
  Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key))).toString("hex");
const K1 = Buffer.alloc(32, 1).toString("base64");
const K1_OTHER = Buffer.alloc(32, 2).toString("base64");
const K2 = Buffer.alloc(32, 3).toString("base64");

describe("on workerd: encryption keys and geo floors by key", () => {
  let worker: TestWorker;
  let keys: string;
  const rpc = async (key: string, method: string, body: unknown) => {
    const res = await worker.fetch(`${BASE_URL}/telemetry.v1.TelemetryService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  beforeAll(async () => {
    keys = JSON.stringify([
      { name: "admin", hash: await sha256("admin-key"), tenant: "acme", scopes: ["admin", "ingest", "read"] },
      { name: "public", hash: await sha256("floor-key"), tenant: "acme", scopes: ["read"], minGeoCount: 5 },
    ]);
    worker = await startWorker({ bindings: { TALLY_KEYS: keys, TALLY_ENCRYPTION_KEYS: `k1=${K1}` } });
    const recorded = await rpc("admin-key", "RecordEvents", { module: "mod-geo", events: EVENTS });
    expect(recorded.body).toEqual({ accepted: 12, duplicates: 0 });
  }, 60_000);
  afterAll(() => worker?.dispose());

  it("a key under a geo floor sees no small cells, no points, and no events export", async () => {
    const cells = await rpc("floor-key", "QueryGeo", {
      module: "mod-geo",
      range: RANGE,
      cellDegrees: 0.001,
      minCount: 1,
    });
    expect(cells).toEqual({ status: 200, body: { bins: [], nextPageToken: "" } });
    const listed = await rpc("floor-key", "ListEvents", { module: "mod-geo", range: RANGE, pageSize: 2 });
    expect((listed.body.events as { location?: unknown }[]).map((e) => e.location)).toEqual([
      undefined,
      undefined,
    ]);
    const link = await rpc("floor-key", "CreateExportLink", { events: { module: "mod-geo", range: RANGE } });
    expect(link.body.code).toBe("permission_denied");
  });

  it("a wrong key stops the Worker with a message naming it; a missing one fails queries clearly", async () => {
    await worker.rebind({ TALLY_KEYS: keys, TALLY_ENCRYPTION_KEYS: `k1=${K1_OTHER}` });
    const health = await worker.fetch(`${BASE_URL}/healthz`);
    expect(health.status).toBe(500);
    expect(await health.text()).toMatch(/"k1"/);
    await worker.rebind({ TALLY_KEYS: keys, TALLY_ENCRYPTION_KEYS: `k2=${K2}` });
    const query = await rpc("admin-key", "ListEvents", { module: "mod-geo", range: RANGE });
    expect(query.body.code).toBe("failed_precondition");
    expect(query.body.message).toMatch(/k1/);
    await worker.rebind({ TALLY_KEYS: keys, TALLY_ENCRYPTION_KEYS: `k2=${K2},k1=${K1}` });
    const again = await rpc("admin-key", "ListEvents", { module: "mod-geo", range: RANGE, pageSize: 100 });
    expect((again.body.events as unknown[]).length).toBe(12);
  });
});

describe("on workerd: tenant isolation (issue 7, suite 5, on the Worker and R2)", () => {
  it("no answer, export, link or error of one tenant holds another's data; DeleteData stays in its tenant", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const keys = await Promise.all(
          world.tenants.map(async (t) => ({
            name: t,
            hash: await sha256(`k-${t}`),
            tenant: t,
            scopes: ["ingest", "read", "admin"],
          })),
        );
        const worker = await startWorker({
          bindings: { TALLY_KEYS: JSON.stringify(keys), TALLY_STEP_EVENTS: "7" },
        });
        try {
          await checkIsolation(
            world,
            (t) =>
              createClient(
                TelemetryService,
                worker.transport("connect", { binary: true, key: `k-${world.tenants[t]}` }),
              ),
            async (url) => (await worker.fetch(new URL(url, BASE_URL))).text(),
            { deletes: true },
          );
        } finally {
          await worker.dispose();
        }
      }),
      { numRuns: 2, seed: 67 },
    );
  }, 120_000);
});
