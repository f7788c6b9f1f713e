import fc from "fast-check";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { generateEvents } from "../scripts/bench-data.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { EventStore } from "../store/event-store.ts";
import { eventRows } from "../store/export-events.ts";
import type { ListSpec } from "../store/query-spec.ts";
import { type Fetcher, WorkerSteps } from "./worker-steps.ts";

const START = Date.UTC(2026, 2, 1);
const END = Date.UTC(2026, 2, 20);

async function text(chunks: AsyncIterable<string>): Promise<string> {
  let all = "";
  for await (const chunk of chunks) all += chunk;
  return all;
}

/** A store of ~1,000 events, and steps of `maxEvents` sent to a "remote" that serves them as a Durable Object would. */
async function setup(maxEvents: number) {
  const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
  const events = generateEvents(2_000, { seed: 5, start: START, end: END }).filter(
    (e) => e.module === "mod-disco",
  );
  for (let i = 0; i < events.length; i += 200) await store.record("t", "mod-disco", events.slice(i, i + 200));
  const secret = new TextEncoder().encode("a secret of the server, long enough");
  const kinds: string[] = [];
  const server = new WorkerSteps({ store, secret, maxEvents });
  const remote: Fetcher = {
    async fetch(request) {
      kinds.push(((await request.clone().json()) as { kind: string }).kind);
      return server.serve(request);
    },
  };
  const steps = new WorkerSteps({ store, secret, maxEvents, remote });
  const spec: ListSpec = {
    tenant: "t",
    module: "mod-disco",
    start: START,
    end: END,
    types: [],
    filters: [],
    asOf: store.now(),
    order: "desc",
  };
  return { store, steps, spec, kinds, secret, events: events.length };
}

describe("WorkerSteps", () => {
  it("writes an events export in signed remote steps, to the text of one go", async () => {
    const { store, steps, spec, kinds, events } = await setup(100);
    const events$ = steps.aggregations().events!;
    const whole = await text(eventRows(store, spec, []));
    expect(whole.split("\r\n").length - 2).toBe(events);
    expect(await text(events$(spec, []))).toBe(whole);
    // A columns pass over the days, then a rows step per 100 events — or fewer, when a step has checked
    // 100 events by the end of a partition (those of the day it went on in count too).
    expect(kinds.filter((k) => k === "columns").length).toBeGreaterThan(3);
    const rowSteps = kinds.filter((k) => k === "rows").length;
    expect(rowSteps).toBeGreaterThanOrEqual(Math.ceil(events / 100));
    expect(rowSteps).toBeLessThanOrEqual(2 * Math.ceil(events / 100));
    kinds.length = 0;
    const chosen = await text(eventRows(store, spec, ["userId", "org"]));
    expect(await text(events$(spec, ["userId", "org"]))).toBe(chosen);
    expect(kinds.every((k) => k === "rows")).toBe(true);
  });

  it("fails an export whose steps the remote refuses: signed with another secret", async () => {
    const { steps, spec, store } = await setup(100);
    const other = new WorkerSteps({
      store,
      secret: new TextEncoder().encode("another server's secret, as long"),
      maxEvents: 100,
      remote: { fetch: (request) => steps.serve(request) },
    });
    await expect(text(other.aggregations().events!(spec, ["org"]))).rejects.toThrow(
      /a query step failed with HTTP 403/,
    );
  });

  it("refuses a signed step altered in any byte (another tenant, another cursor) or with its signature altered", async () => {
    const { store, secret, spec } = await setup(100);
    const server = new WorkerSteps({ store, secret, maxEvents: 100 });
    // Real signed step requests, as the serving invocation sends them: a ListEvents page in steps.
    const sent: { body: string; mac: string }[] = [];
    const steps = new WorkerSteps({
      store,
      secret,
      maxEvents: 100,
      remote: {
        async fetch(request) {
          sent.push({
            body: await request.clone().text(),
            mac: request.headers.get("x-tally-step-mac") ?? "",
          });
          return server.serve(request);
        },
      },
    });
    await steps.aggregations().list!(spec, 5, { time: spec.end - 1, id: "z" });
    expect(sent.length).toBeGreaterThan(0);
    const serve = (body: string, mac: string) =>
      server.serve(
        new Request("https://tally.internal/_tally/step", {
          method: "POST",
          headers: { "x-tally-step-mac": mac },
          body,
        }),
      );
    const { body, mac } = sent[0]!;
    expect((await serve(body, mac)).status).toBe(200);
    expect((await serve(body.replace('"tenant":"t"', '"tenant":"u"'), mac)).status).toBe(403);
    expect((await serve(body, "")).status).toBe(403);
    await fc.assert(
      fc.asyncProperty(
        fc.nat(body.length - 1),
        fc.integer({ min: 1, max: 0x7e }),
        fc.boolean(),
        async (at, code, inMac) => {
          const change = (text: string, k: number) => {
            const c = text.charCodeAt(k % text.length) ^ code;
            return (
              text.slice(0, k % text.length) + String.fromCharCode(c) + text.slice((k % text.length) + 1)
            );
          };
          // Another hex digit in the signature (anything else is not a header value).
          const digit = (text: string, k: number) => {
            const i = k % text.length;
            const hex = "0123456789abcdef";
            const other = hex[(hex.indexOf(text[i]!) + 1 + (code % 15)) % 16]!;
            return text.slice(0, i) + other + text.slice(i + 1);
          };
          const res = inMac ? await serve(body, digit(mac, at)) : await serve(change(body, at), mac);
          expect(res.status).toBe(403);
        },
      ),
      { numRuns: 200 },
    );
  });
});
