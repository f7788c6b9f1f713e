import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createApp } from "./app.ts";
import { RateLimiter } from "./rate-limit.ts";
import { testDeps } from "./test-deps.ts";

describe("token bucket", () => {
  it("allows the burst, then the rate, and says how long to wait", () => {
    let t = 0;
    const limiter = new RateLimiter(10, 3, () => t);
    expect([0, 0, 0].map(() => limiter.take("a"))).toEqual([0, 0, 0]);
    expect(limiter.take("a")).toBe(100); // one token per 100 ms
    expect(limiter.take("b")).toBe(0); // another key has its own bucket
    t = 50;
    expect(limiter.take("a")).toBe(50);
    t = 100;
    expect(limiter.take("a")).toBe(0);
    t = 10_000; // a long pause refills only up to the burst
    expect([0, 0, 0, 0].map(() => limiter.take("a"))).toEqual([0, 0, 0, 100]);
  });
});

const hash = (key: string) => createHash("sha256").update(key).digest("hex");

describe("requests per second per key", () => {
  const deps = testDeps({
    keys: [
      { hash: hash("k1"), tenant: "acme", scopes: ["ingest", "read"] },
      { hash: hash("k2"), tenant: "acme", scopes: ["ingest", "read"] },
    ],
    limits: { requestsPerSecond: 2, requestBurst: 3 },
  });
  const app = createApp(deps);
  const record = (key: string, binary = false) =>
    app.request("/telemetry.v1.TelemetryService/RecordEvents", {
      method: "POST",
      headers: {
        "content-type": binary ? "application/proto" : "application/json",
        authorization: `Bearer ${key}`,
      },
      // An empty binary RecordEventsRequest is zero bytes; it fails validation (no module), after the limit.
      body: binary
        ? new Uint8Array(0)
        : JSON.stringify({ module: "m", events: [{ type: "t", time: "2026-06-01T00:00:00Z" }] }),
    });

  it("answers resource_exhausted with retry-after once a key is over, on JSON and the binary fast path", async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await record("k1", i % 2 === 1)).status);
    expect(statuses).toEqual([200, 400, 200]); // within the burst (the binary one is an empty request)
    for (const binary of [false, true]) {
      const over = await record("k1", binary);
      expect(over.status).toBe(429);
      const body = (await over.json()) as { code: string; message: string };
      expect(body.code).toBe("resource_exhausted");
      expect(body.message).toMatch(
        /^rate limit: more than 2 requests per second for this API key; retry in \d+ ms$/,
      );
      expect(Number(over.headers.get("retry-after"))).toBe(1);
      const ms = Number(over.headers.get("tally-retry-after-ms"));
      expect(ms).toBeGreaterThan(0);
      expect(ms).toBeLessThanOrEqual(500);
    }
    // Another key is not held back by the first.
    expect((await record("k2")).status).toBe(200);
  });

  it("lets the key through again after the hinted wait", async () => {
    let over = await record("k1");
    while (over.status === 200) over = await record("k1");
    const wait = Number(over.headers.get("tally-retry-after-ms"));
    await new Promise((resolve) => setTimeout(resolve, wait + 20));
    expect((await record("k1")).status).toBe(200);
  });
});
