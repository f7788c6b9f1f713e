/**
 * One set of queries, every wire: Connect JSON and binary, gRPC-web and gRPC, HTTP/1.1 and HTTP/2, with and
 * without gzip, and `buf curl` with each protocol — all against a real `npm start` server, all answering
 * exactly alike.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { create, type DescMessage, fromJson, toJson } from "@bufbuild/protobuf";
import { type Client, Code, type ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ListEventsRequestSchema,
  ListEventsResponseSchema,
  QueryGeoRequestSchema,
  QueryGeoResponseSchema,
  QuerySeriesRequestSchema,
  QuerySeriesResponseSchema,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { generateReferenceData, toEventInit } from "./reference-data.ts";
import { REFERENCE_QUERIES, type ReferenceQuery } from "./reference-queries.ts";
import { ROOT, type ServerProcess, startServer } from "./server-process.ts";

const run = promisify(execFile);
let server: ServerProcess;
let dataDir: string;

const data = generateReferenceData();

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tally-protocols-"));
  server = await startServer({ DATA_DIR: dataDir });
  const client = createClient(
    TelemetryService,
    createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
  );
  let accepted = 0;
  let duplicates = 0;
  for (const batch of data.batches) {
    const res = await client.recordEvents({ module: batch.module, events: batch.events.map(toEventInit) });
    accepted += res.accepted;
    duplicates += res.duplicates;
  }
  expect({ accepted, duplicates }).toEqual({
    accepted: data.expectedAccepted,
    duplicates: data.expectedDuplicates,
  });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const gzip = { sendCompression: compressionGzip, acceptCompression: [compressionGzip], compressMinBytes: 0 };
const TRANSPORTS: Record<string, (url: string) => Transport> = {
  "connect json http/1.1": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" }),
  "connect binary http/1.1": (baseUrl) =>
    createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  "connect json http/1.1 gzip": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", ...gzip }),
  "connect binary http/2 gzip": (baseUrl) =>
    createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, ...gzip }),
  "grpc-web binary http/1.1": (baseUrl) =>
    createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  "grpc-web json http/1.1 gzip": (baseUrl) =>
    createGrpcWebTransport({ baseUrl, httpVersion: "1.1", ...gzip }),
  "grpc-web binary http/2": (baseUrl) =>
    createGrpcWebTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
  "grpc http/2": (baseUrl) => createGrpcTransport({ baseUrl }),
  "grpc http/2 gzip": (baseUrl) => createGrpcTransport({ baseUrl, ...gzip }),
};

const SCHEMAS: Record<ReferenceQuery["rpc"], { request: DescMessage; response: DescMessage; page: number }> =
  {
    querySeries: { request: QuerySeriesRequestSchema, response: QuerySeriesResponseSchema, page: 60 },
    queryGeo: { request: QueryGeoRequestSchema, response: QueryGeoResponseSchema, page: 10 },
    listEvents: { request: ListEventsRequestSchema, response: ListEventsResponseSchema, page: 40 },
  };

/** Every page of a query, concatenated. */
async function allPages(client: Client<typeof TelemetryService>, q: ReferenceQuery, pageSize: number) {
  const pages: unknown[] = [];
  let pageToken = "";
  do {
    // biome-ignore lint/suspicious/noExplicitAny: the three RPCs share the paging fields.
    const res: any = await (client[q.rpc] as any)({ ...q.request, pageSize, pageToken });
    pages.push({ ...res, nextPageToken: "" });
    pageToken = res.nextPageToken;
  } while (pageToken && pages.length < 1000);
  return pages;
}

/** The connect-json answers every other wire must equal, computed once. */
const baselines = new Map<string, unknown[]>();
async function baseline(q: ReferenceQuery, pageSize: number): Promise<unknown[]> {
  const key = `${q.name}/${pageSize}`;
  let pages = baselines.get(key);
  if (!pages) {
    const client = createClient(TelemetryService, TRANSPORTS["connect json http/1.1"]!(server.url));
    pages = await allPages(client, q, pageSize);
    baselines.set(key, pages);
  }
  return pages;
}

/** Runs `fn` over `items`, `limit` at a time. */
async function inParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

describe("every protocol answers the reference queries alike", () => {
  it.each(Object.keys(TRANSPORTS).filter((name) => name !== "connect json http/1.1"))("%s", async (name) => {
    const client = createClient(TelemetryService, TRANSPORTS[name]!(server.url));
    for (const q of REFERENCE_QUERIES) {
      const pageSize = SCHEMAS[q.rpc].page;
      expect(await allPages(client, q, pageSize), `${name}: ${q.name}`).toEqual(await baseline(q, pageSize));
    }
  });

  it.each(["connect", "grpcweb", "grpc"])("buf curl --protocol %s", async (protocol) => {
    await inParallel(REFERENCE_QUERIES, 4, async (q) => {
      const { request, response } = SCHEMAS[q.rpc];
      const [expected] = await baseline(q, 10_000);
      const method = q.rpc[0]!.toUpperCase() + q.rpc.slice(1);
      const body = JSON.stringify(
        toJson(request, create(request, { ...q.request, pageSize: 10_000 } as never)),
      );
      const { stdout } = await run(
        join(ROOT, "node_modules/.bin/buf"),
        [
          "curl",
          "--schema",
          ROOT,
          "--protocol",
          protocol,
          ...(protocol === "grpc" ? ["--http2-prior-knowledge"] : []),
          "-d",
          body,
          `${server.url}/telemetry.v1.TelemetryService/${method}`,
        ],
        { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
      );
      const answer = fromJson(response, JSON.parse(stdout));
      expect({ ...answer, nextPageToken: "" }, `buf curl ${protocol}: ${q.name}`).toEqual(expected);
    });
  });
});

describe("page tokens across protocols", () => {
  it("a query paged with each page over the next protocol gives the same pages", async () => {
    const clients = Object.values(TRANSPORTS).map((t) => createClient(TelemetryService, t(server.url)));
    for (const q of REFERENCE_QUERIES) {
      const pageSize = SCHEMAS[q.rpc].page;
      const pages: unknown[] = [];
      let pageToken = "";
      do {
        const client = clients[pages.length % clients.length]!;
        // biome-ignore lint/suspicious/noExplicitAny: the three RPCs share the paging fields.
        const res: any = await (client[q.rpc] as any)({ ...q.request, pageSize, pageToken });
        pages.push({ ...res, nextPageToken: "" });
        pageToken = res.nextPageToken;
      } while (pageToken && pages.length < 1000);
      expect(pages, q.name).toEqual(await baseline(q, pageSize));
    }
  });

  it.each(Object.keys(TRANSPORTS))("%s: an altered token is invalid_argument on pageToken", async (name) => {
    const client = createClient(TelemetryService, TRANSPORTS[name]!(server.url));
    const q = REFERENCE_QUERIES.find((r) => r.rpc === "listEvents")!;
    // biome-ignore lint/suspicious/noExplicitAny: the request of a reference query.
    const first: any = await client.listEvents({ ...(q.request as any), pageSize: 1 });
    expect(first.nextPageToken).not.toBe("");
    const altered = `${first.nextPageToken.slice(0, -1)}${first.nextPageToken.endsWith("A") ? "B" : "A"}`;
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    const error = await client.listEvents({ ...(q.request as any), pageSize: 1, pageToken: altered }).then(
      () => undefined,
      (e: unknown) => e as ConnectError,
    );
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(error?.rawMessage).toMatch(/^pageToken: /);
  });
});
