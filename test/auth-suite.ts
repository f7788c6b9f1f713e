/**
 * API keys and tenants, the same on every runtime: the Node server process (server.test.ts) and the
 * Worker on workerd (workerd/auth.test.ts) are configured with AUTH_KEYS and must answer alike.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import type { KeyEntry } from "../functions/auth.ts";
import { Interval, type TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";

const sha256 = async (key: string) =>
  Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key))).toString("hex");

export const AUTH_KEYS: KeyEntry[] = [
  { name: "a-rw", hash: await sha256("key-a-rw"), tenant: "acme", scopes: ["ingest", "read"] },
  { name: "a-ingest", hash: await sha256("key-a-ingest"), tenant: "acme", scopes: ["ingest"] },
  { name: "a-read", hash: await sha256("key-a-read"), tenant: "acme", scopes: ["read"] },
  { name: "b-rw", hash: await sha256("key-b-rw"), tenant: "acme-b", scopes: ["ingest", "read"] },
];

type ClientFor = (key?: string) => Client<typeof TelemetryService>;

const T0 = Date.UTC(2026, 5, 1);
const RANGE = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 30 * 86_400_000) };

function batch(prefix: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    type: "enrolled",
    time: timestampFromMs(T0 + ((i * 7_919_000) % (29 * 86_400_000))),
    data: { org: `org-${i % 3}`, userId: `u-${i}` },
  }));
}

async function total(client: ClientFor, key: string): Promise<number> {
  const res = await client(key).querySeries({ module: "mod-disco", range: RANGE, interval: Interval.TOTAL });
  return res.rows.reduce((sum, row) => sum + row.value, 0);
}

async function codeOf(promise: Promise<unknown>): Promise<Code | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

/** Runs the checks against an empty server configured with AUTH_KEYS; `client(key)` calls it with a key. */
export async function checkAuth(client: ClientFor): Promise<void> {
  const events = batch("t", 40);
  expect(await codeOf(client().recordEvents({ module: "mod-disco", events }))).toBe(Code.Unauthenticated);
  expect(await codeOf(client("nope").recordEvents({ module: "mod-disco", events }))).toBe(
    Code.Unauthenticated,
  );
  expect(await client("key-a-ingest").recordEvents({ module: "mod-disco", events })).toMatchObject({
    accepted: 40,
  });
  expect(await codeOf(total(client, "key-a-ingest"))).toBe(Code.PermissionDenied);
  expect(await codeOf(client("key-a-read").recordEvents({ module: "mod-disco", events }))).toBe(
    Code.PermissionDenied,
  );
  expect(await total(client, "key-a-read")).toBe(40);
  expect(await total(client, "key-a-rw")).toBe(40);
  // Tenant B sees none of A's events, and its own retry of the same ids is no duplicate of A's.
  expect(await total(client, "key-b-rw")).toBe(0);
  const listB = await client("key-b-rw").listEvents({ module: "mod-disco", range: RANGE });
  expect(listB.events).toEqual([]);
  expect(await client("key-b-rw").recordEvents({ module: "mod-disco", events })).toMatchObject({
    accepted: 40,
    duplicates: 0,
  });
  expect(await total(client, "key-a-read")).toBe(40);
  // A page token of tenant A is refused for tenant B, even for the same query.
  const page = await client("key-a-read").listEvents({
    module: "mod-disco",
    range: RANGE,
    pageSize: 5,
  });
  expect(page.nextPageToken).not.toBe("");
  expect(
    await codeOf(
      client("key-b-rw").listEvents({
        module: "mod-disco",
        range: RANGE,
        pageSize: 5,
        pageToken: page.nextPageToken,
      }),
    ),
  ).toBe(Code.InvalidArgument);
}
