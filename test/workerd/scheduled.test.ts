/**
 * Background work on workerd: the Cron Trigger's `scheduled` handler compacts the partitions of the last
 * two UTC days, leaving answers unchanged. And the Durable Object that runs query steps refuses step
 * requests the Worker did not sign.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Interval, TelemetryService } from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { BASE_URL, startWorker, type TestWorker } from "../worker-miniflare.ts";

const DAY = 86_400_000;
let worker: TestWorker;
beforeAll(async () => {
  worker = await startWorker({ bindings: { TALLY_OPEN: "true" } });
});
afterAll(() => worker.dispose());

/** Segment objects per partition, as `module/day` → count, read from the R2 bucket itself. */
async function segmentsByPartition(): Promise<Record<string, number>> {
  const bucket = await worker.mf.getR2Bucket("TALLY_BUCKET");
  const counts: Record<string, number> = {};
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: "v1/default/", ...(cursor ? { cursor } : {}) });
    for (const { key } of page.objects) {
      const [, , module, , day] = key.split("/");
      counts[`${module}/${day}`] = (counts[`${module}/${day}`] ?? 0) + 1;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return counts;
}

describe("the Worker's scheduled handler", () => {
  it("compacts today's and yesterday's partitions of every module, and answers stay the same", async () => {
    const client = createClient(TelemetryService, worker.transport("connect", { binary: true }));
    const now = Date.UTC(2026, 8, 10, 12);
    const days = [now, now - DAY, now - 5 * DAY];
    for (const module of ["mod-a", "mod-b"])
      for (let batch = 0; batch < 4; batch++)
        await client.recordEvents({
          module,
          events: days.map((t, i) => ({
            id: `${batch}-${i}`,
            type: "x",
            time: timestampFromMs(t - batch * 60_000),
            data: { batch },
          })),
        });
    const totals = async (module: string) =>
      (
        await client.querySeries({
          module,
          range: { start: timestampFromMs(now - 10 * DAY), end: timestampFromMs(now + DAY) },
          interval: Interval.DAY,
        })
      ).rows.map((r) => r.value);
    const before = { a: await totals("mod-a"), b: await totals("mod-b") };
    expect(await segmentsByPartition()).toEqual({
      "mod-a/20260910": 4,
      "mod-a/20260909": 4,
      "mod-a/20260905": 4,
      "mod-b/20260910": 4,
      "mod-b/20260909": 4,
      "mod-b/20260905": 4,
    });
    const result = await (await worker.mf.getWorker()).scheduled({
      cron: "*/10 * * * *",
      scheduledTime: new Date(now),
    });
    expect(result.outcome).toBe("ok");
    expect(await segmentsByPartition()).toEqual({
      "mod-a/20260910": 1,
      "mod-a/20260909": 1,
      "mod-a/20260905": 4,
      "mod-b/20260910": 1,
      "mod-b/20260909": 1,
      "mod-b/20260905": 4,
    });
    expect({ a: await totals("mod-a"), b: await totals("mod-b") }).toEqual(before);
    expect(before.a.reduce((x, y) => x + y)).toBe(12);
  });
});

describe("the Worker's query steps", () => {
  it("refuse a step request the Worker did not sign", async () => {
    const step = {
      kind: "geo",
      spec: { tenant: "default", module: "mod-a", start: 0, end: 1e13, types: [], filters: [], asOf: 1e13 },
      from: 0,
      done: false,
    };
    const steps = await worker.mf.getDurableObjectNamespace("STEPS");
    const post = async (headers: Record<string, string>) =>
      (await steps.get(steps.newUniqueId()).fetch(`${BASE_URL}/_tally/step`, {
        method: "POST",
        headers,
        body: JSON.stringify(step),
      })) as unknown as Response;
    expect((await post({})).status).toBe(403);
    expect((await post({ "x-tally-step-mac": "00".repeat(32) })).status).toBe(403);
    // Nor is the step path part of the public API.
    expect((await worker.fetch(`${BASE_URL}/_tally/step`, { method: "POST", body: "{}" })).status).toBe(404);
  });
});
