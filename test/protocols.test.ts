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
import { type DescMessage, fromJson, type MessageShape, toJson } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ListEventsResponseSchema,
  QueryGeoResponseSchema,
  QuerySeriesResponseSchema,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { generateEvents } from "../scripts/bench-data.ts";
import { PROTOCOL_QUERIES, type ProtocolQuery } from "./protocol-queries.ts";
import { ROOT, type ServerProcess, startServer } from "./server-process.ts";

const run = promisify(execFile);
let server: ServerProcess;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tally-protocols-"));
  server = await startServer({ DATA_DIR: dataDir });
  const events = generateEvents(3000, { seed: 7, start: Date.UTC(2026, 2, 1), end: Date.UTC(2026, 5, 1) });
  const client = createClient(
    TelemetryService,
    createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
  );
  for (const module of ["sys-account", "mod-disco"] as const) {
    const mine = events.filter((e) => e.module === module);
    for (let i = 0; i < mine.length; i += 500) {
      await client.recordEvents({
        module,
        events: mine.slice(i, i + 500).map((e) => ({
          id: e.id,
          type: e.type,
          time: timestampFromMs(e.time),
          data: e.data,
          ...(Number.isNaN(e.lat) ? {} : { location: { lat: e.lat, lon: e.lon } }),
        })),
      });
    }
  }
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

const RESPONSES: Record<ProtocolQuery["rpc"], DescMessage> = {
  querySeries: QuerySeriesResponseSchema,
  queryGeo: QueryGeoResponseSchema,
  listEvents: ListEventsResponseSchema,
};

/** Every page of a query, concatenated. */
async function allPages(client: Client<typeof TelemetryService>, q: ProtocolQuery) {
  const pages: unknown[] = [];
  let pageToken = "";
  do {
    // biome-ignore lint/suspicious/noExplicitAny: the three RPCs share the paging fields.
    const res: any = await (client[q.rpc] as any)({ ...q.request, pageToken });
    pages.push(res);
    pageToken = res.nextPageToken;
  } while (pageToken && pages.length < 1000);
  return pages.map((p) => ({ ...(p as object), nextPageToken: "" }));
}

describe("every protocol answers alike", () => {
  it.each(Object.keys(TRANSPORTS))("%s", async (name) => {
    const baseline = createClient(TelemetryService, TRANSPORTS["connect json http/1.1"]!(server.url));
    const client = createClient(TelemetryService, TRANSPORTS[name]!(server.url));
    for (const q of PROTOCOL_QUERIES) {
      const expected = await allPages(baseline, q);
      expect(expected.length, q.name).toBeGreaterThan(0);
      expect(await allPages(client, q), `${name}: ${q.name}`).toEqual(expected);
    }
  });

  it.each(["connect", "grpcweb", "grpc"])("buf curl --protocol %s", async (protocol) => {
    const baseline = createClient(TelemetryService, TRANSPORTS["connect json http/1.1"]!(server.url));
    for (const q of PROTOCOL_QUERIES) {
      const schema = RESPONSES[q.rpc];
      const [expected] = (await allPages(baseline, {
        ...q,
        request: { ...q.request, pageSize: 100_000 },
      })) as unknown as MessageShape<typeof schema>[];
      const method = q.rpc[0]!.toUpperCase() + q.rpc.slice(1);
      const body = JSON.stringify(toJson(q.requestSchema, q.requestMessage({ pageSize: 100_000 })));
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
      const answer = fromJson(schema, JSON.parse(stdout));
      expect(answer, `buf curl ${protocol}: ${q.name}`).toEqual({ ...expected!, nextPageToken: "" });
    }
  });
});
