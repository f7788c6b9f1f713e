/**
 * API keys and tenants on workerd (test/auth-suite.ts, as on the Node server), keys from the TALLY_KEYS
 * secret; and a Worker that is misconfigured says what to fix instead of serving.
 */
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TelemetryService } from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { AUTH_KEYS, checkAuth } from "../auth-suite.ts";
import { BASE_URL, startWorker, type TestWorker } from "../worker-miniflare.ts";

let worker: TestWorker;
beforeAll(async () => {
  worker = await startWorker({ bindings: { TALLY_KEYS: JSON.stringify(AUTH_KEYS) } });
});
afterAll(() => worker.dispose());

describe("the Worker on workerd", () => {
  it("authenticates by API key and keeps tenants apart", async () => {
    await checkAuth((key) =>
      createClient(TelemetryService, worker.transport("connect", { binary: true, ...(key ? { key } : {}) })),
    );
  });

  it("refuses to serve without keys or secret, and says how to fix it", async () => {
    const health = async () => {
      const res = await worker.fetch(`${BASE_URL}/healthz`);
      return { status: res.status, text: await res.text() };
    };
    await worker.rebind({});
    expect(await health()).toMatchObject({
      status: 500,
      text: expect.stringMatching(/no API keys.*TALLY_KEYS/),
    });
    await worker.rebind({ TALLY_SECRET: "", TALLY_OPEN: "true" });
    expect(await health()).toMatchObject({
      status: 500,
      text: expect.stringMatching(/wrangler secret put TALLY_SECRET/),
    });
    await worker.rebind({ TALLY_OPEN: "true", TALLY_LIMITS: '{"maxEvents":1}' });
    expect(await health()).toMatchObject({
      status: 500,
      text: expect.stringMatching(/unknown limit "maxEvents"/),
    });
    await worker.rebind({ TALLY_OPEN: "true" });
    expect(await health()).toMatchObject({ status: 200 });
  });
});
