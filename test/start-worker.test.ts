/**
 * `npm run start:worker` (the Worker bundle in Miniflare, R2 under DATA_DIR) answers the same Connect
 * requests as `npm start` (Node, filesystem), byte for byte where the answer does not depend on the server's
 * secret, and keeps its events across a restart.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callJson, type ServerProcess, startServer } from "./server-process.ts";

const dirs: string[] = [];
const servers: ServerProcess[] = [];
let node: ServerProcess;
let worker: ServerProcess;
let workerDir: string;

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tally-start-worker-"));
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  workerDir = tempDir();
  [node, worker] = await Promise.all([
    startServer({ DATA_DIR: tempDir() }),
    startServer({ DATA_DIR: workerDir, COMPACT_EVERY_MS: "3600000" }, "scripts/start-worker.ts"),
  ]);
  servers.push(node, worker);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const RANGE = { start: "2026-03-01T00:00:00Z", end: "2026-03-08T00:00:00Z" };
const EVENTS = Array.from({ length: 60 }, (_, i) => ({
  id: `e${i}`,
  type: i % 3 === 0 ? "enrolled" : "unenrolled",
  time: new Date(Date.UTC(2026, 2, 1) + i * 9_000_000).toISOString(),
  data: { org: `org-${i % 4}`, n: i, tags: [`t${i % 5}`] },
  ...(i % 2 ? { location: { lat: 52.5 + i / 100, lon: 13.4 } } : {}),
}));

const REQUESTS: [string, unknown][] = [
  ["RecordEvents", { module: "mod-disco", events: EVENTS }],
  ["RecordEvents", { module: "mod-disco", events: EVENTS.slice(0, 10) }],
  ["QuerySeries", { module: "mod-disco", range: RANGE, interval: "INTERVAL_DAY", groupBy: ["org"] }],
  [
    "QuerySeries",
    {
      module: "mod-disco",
      range: RANGE,
      interval: "INTERVAL_TOTAL",
      groupBy: ["type"],
      aggregation: { function: "AGGREGATION_FUNCTION_COUNT_UNIQUE", field: "tags" },
    },
  ],
  ["QueryGeo", { module: "mod-disco", range: RANGE, cellDegrees: 0.1 }],
  ["ListEvents", { module: "mod-disco", range: RANGE, types: ["enrolled"], pageSize: 100 }],
  ["QuerySeries", { module: "mod-disco", range: { start: RANGE.end, end: RANGE.start } }],
  ["RecordEvents", { module: "Bad", events: EVENTS.slice(0, 1) }],
];

describe("npm run start:worker", () => {
  it("prints where it listens, like npm start", () => {
    expect(worker.output()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
  });

  it("answers the same Connect requests as npm start", async () => {
    for (const [method, body] of REQUESTS) {
      const [a, b] = [await callJson(node.url, method, body), await callJson(worker.url, method, body)];
      expect({ method, ...b }).toEqual({ method, ...a });
    }
    const health = await Promise.all(
      [node.url, worker.url].map((u) => fetch(`${u}/healthz`).then((r) => r.json())),
    );
    expect(health[1]).toEqual(health[0]);
  });

  it("pages and downloads exports the same way (tokens differ: each server signs its own)", async () => {
    const pages = async (base: string) => {
      const out: unknown[] = [];
      let pageToken = "";
      do {
        const res = await callJson(base, "ListEvents", {
          module: "mod-disco",
          range: RANGE,
          pageSize: 7,
          pageToken,
        });
        out.push(res.body.events);
        pageToken = res.body.nextPageToken as string;
      } while (pageToken);
      return out;
    };
    const [a, b] = [await pages(node.url), await pages(worker.url)];
    expect(a.length).toBeGreaterThan(5);
    expect(b).toEqual(a);
    const csv = async (base: string) => {
      const link = await callJson(base, "CreateExportLink", {
        series: { module: "mod-disco", range: RANGE, interval: "INTERVAL_DAY", groupBy: ["org"] },
      });
      const res = await fetch(`${base}${link.body.url as string}`, {
        headers: { "accept-encoding": "gzip" },
      });
      return { status: res.status, encoding: res.headers.get("content-encoding"), text: await res.text() };
    };
    const [x, y] = [await csv(node.url), await csv(worker.url)];
    expect(x.text.split("\r\n").length).toBeGreaterThan(20);
    expect(y).toEqual(x);
  });

  it("keeps its events in DATA_DIR across a restart", async () => {
    await worker.stop();
    worker = await startServer(
      { DATA_DIR: workerDir, COMPACT_EVERY_MS: "3600000" },
      "scripts/start-worker.ts",
    );
    servers.push(worker);
    const [a, b] = await Promise.all(
      [node.url, worker.url].map((u) =>
        callJson(u, "QuerySeries", { module: "mod-disco", range: RANGE, interval: "INTERVAL_TOTAL" }),
      ),
    );
    expect(b).toEqual(a);
    expect((b!.body.rows as { value: number }[])[0]!.value).toBe(60);
  });
});
