/**
 * Unparseable binary is invalid_argument in each protocol's own form — Connect unary and streaming,
 * gRPC-web and gRPC — through the router's handlers as every server uses them.
 */
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { describe, expect, it } from "vitest";
import { createRouter } from "./routes.ts";
import { testDeps } from "./test-deps.ts";

const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0x01, 0x02]);
const enveloped = new Uint8Array([0, 0, 0, 0, garbage.length, ...garbage]);

async function call(path: string, type: string, body: Uint8Array) {
  const handler = createRouter(testDeps()).handlers.find(
    (h) => h.requestPath === `/telemetry.v1.TelemetryService/${path}` && h.supportedContentType(type),
  )!;
  const req: UniversalServerRequest = {
    httpVersion: "2",
    method: "POST",
    url: `http://x/telemetry.v1.TelemetryService/${path}`,
    header: new Headers({ "content-type": type, te: "trailers" }),
    body: (async function* () {
      yield body;
    })(),
    signal: new AbortController().signal,
  };
  const res = await handler(req);
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body ?? []) chunks.push(chunk);
  return { res, text: Buffer.concat(chunks).toString("latin1") };
}

/** A Connect unary RecordEvents with a gzipped JSON body: the error it is answered with. */
async function gzippedRecord(deps: ReturnType<typeof testDeps>, json: Uint8Array) {
  const { gzipSync } = await import("fflate");
  const handler = createRouter(deps).handlers.find(
    (h) => h.requestPath === "/telemetry.v1.TelemetryService/RecordEvents",
  )!;
  const res = await handler({
    httpVersion: "1.1",
    method: "POST",
    url: "http://x/telemetry.v1.TelemetryService/RecordEvents",
    header: new Headers({ "content-type": "application/json", "content-encoding": "gzip" }),
    body: (async function* () {
      yield gzipSync(json);
    })(),
    signal: new AbortController().signal,
  });
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body ?? []) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString()) as { code: string; message: string };
}

describe("unparseable binary requests", () => {
  it("Connect unary: 400 invalid_argument", async () => {
    const { res, text } = await call("QuerySeries", "application/proto", garbage);
    expect(res.status).toBe(400);
    expect(JSON.parse(text)).toEqual({
      code: "invalid_argument",
      message: "cannot decode request: premature EOF",
    });
    expect(res.header?.get("content-length")).toBe(String(text.length));
  });

  it("Connect streaming: the end-stream frame says invalid_argument", async () => {
    const { text } = await call("ExportCsv", "application/connect+proto", enveloped);
    expect(JSON.parse(text.slice(5))).toEqual({
      error: { code: "invalid_argument", message: expect.stringMatching(/^cannot decode request: /) },
    });
  });

  it("gRPC-web: the trailer frame says status 3", async () => {
    const { text } = await call("QuerySeries", "application/grpc-web+proto", enveloped);
    expect(text.charCodeAt(0)).toBe(0x80);
    expect(text).toContain("grpc-status: 3\r\n");
    expect(text).toContain("grpc-message: cannot%20decode%20request%3A%20premature%20EOF\r\n");
  });

  it("gRPC: the trailers say status 3", async () => {
    for (const path of ["QuerySeries", "ExportCsv", "RecordEvents"]) {
      const { res } = await call(path, "application/grpc+proto", enveloped);
      expect(res.trailer?.get("grpc-status")).toBe("3");
      expect(decodeURIComponent(res.trailer?.get("grpc-message") ?? "")).toMatch(/^cannot decode request: /);
    }
  });

  it("leaves valid requests and other errors alone", async () => {
    const { res, text } = await call("QuerySeries", "application/proto", new Uint8Array(0));
    expect(res.status).toBe(400);
    expect(JSON.parse(text).message).toMatch(/^module: /);
  });
});

describe("undecodable JSON requests name the field", () => {
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const envelope = (bytes: Uint8Array) => new Uint8Array([0, 0, 0, 0, bytes.length, ...bytes]);
  const badTime = json({ module: "m", events: [{ type: "x" }, { type: "x", time: "yesterday" }] });
  const badOp = json({
    events: {
      module: "m",
      range: { start: "2026-03-01T00:00:00Z", end: "2026-04-01T00:00:00Z" },
      filters: [{ field: "org", op: "OPERATOR_LIKE" }],
    },
  });

  it("Connect unary: the message starts with the path", async () => {
    const { res, text } = await call("RecordEvents", "application/json", badTime);
    expect(res.status).toBe(400);
    expect(JSON.parse(text)).toEqual({
      code: "invalid_argument",
      message: expect.stringMatching(/^events\[1\]\.time: cannot decode message google\.protobuf\.Timestamp/),
    });
    expect(res.header?.get("content-length")).toBe(String(Buffer.byteLength(text)));
  });

  it("Connect unary, gzip-compressed: the same", async () => {
    const error = await gzippedRecord(testDeps(), badTime);
    expect(error.message).toMatch(/^events\[1\]\.time: /);
  });

  it("Connect streaming: the end-stream frame", async () => {
    const { text } = await call("ExportCsv", "application/connect+json", envelope(badOp));
    expect(JSON.parse(text.slice(5)).error).toEqual({
      code: "invalid_argument",
      message: expect.stringMatching(/^events\.filters\[0\]\.op: cannot decode enum/),
    });
  });

  it("gRPC-web: the trailer frame", async () => {
    const { text } = await call("ExportCsv", "application/grpc-web+json", envelope(badOp));
    expect(text).toContain("grpc-status: 3\r\n");
    expect(decodeURIComponent(/grpc-message: (\S*)/.exec(text)![1]!)).toMatch(/^events\.filters\[0\]\.op: /);
  });

  it("gRPC: the trailers", async () => {
    const { res } = await call("RecordEvents", "application/grpc+json", envelope(badTime));
    expect(res.trailer?.get("grpc-status")).toBe("3");
    expect(decodeURIComponent(res.trailer?.get("grpc-message") ?? "")).toMatch(/^events\[1\]\.time: /);
  });

  it("leaves field errors the service names alone", async () => {
    const { text } = await call("RecordEvents", "application/json", json({ module: "m", events: [{}] }));
    expect(JSON.parse(text).message).toMatch(/^events\[0\]\.type: required/);
  });
});

describe("a Timestamp no calendar has is refused in every JSON protocol, before the method runs", () => {
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const envelope = (bytes: Uint8Array) => new Uint8Array([0, 0, 0, 0, bytes.length, ...bytes]);
  const feb30 = json({ module: "m", events: [{ type: "x", time: "2026-02-30T00:00:00Z" }] });
  const exportAprilEnd = json({
    events: { module: "m", range: { start: "2026-03-01T00:00:00Z", end: "2026-04-31T00:00:00Z" } },
  });
  const feb30Message =
    'events[0].time: invalid RFC 3339 string "2026-02-30T00:00:00Z": February 2026 has 28 days';
  const aprilMessage =
    /^events\.range\.end: invalid RFC 3339 string "2026-04-31T00:00:00Z": April 2026 has 30 days$/;

  it("Connect unary", async () => {
    const { res, text } = await call("RecordEvents", "application/json", feb30);
    expect(res.status).toBe(400);
    expect(JSON.parse(text)).toEqual({ code: "invalid_argument", message: feb30Message });
  });

  it("Connect streaming", async () => {
    const { text } = await call("ExportCsv", "application/connect+json", envelope(exportAprilEnd));
    expect(JSON.parse(text.slice(5)).error.message).toMatch(aprilMessage);
  });

  it("gRPC-web", async () => {
    const { text } = await call("ExportCsv", "application/grpc-web+json", envelope(exportAprilEnd));
    expect(text).toContain("grpc-status: 3\r\n");
    expect(decodeURIComponent(/grpc-message: (\S*)/.exec(text)![1]!)).toMatch(aprilMessage);
  });

  it("unpacks a gzipped body no further than the request limit: over it, connect-es refuses it", async () => {
    const padded = new TextEncoder().encode(
      `{"module":"m","events":[{"type":"x","time":"2026-02-30T00:00:00Z"}]}${" ".repeat(10_000_000)}`,
    );
    const error = await gzippedRecord(testDeps({ limits: { maxRequestBytes: 64 * 1024 } }), padded);
    expect(error.code).toBe("resource_exhausted");
  });

  it("gRPC", async () => {
    const { res } = await call("RecordEvents", "application/grpc+json", envelope(feb30));
    expect(res.trailer?.get("grpc-status")).toBe("3");
    expect(decodeURIComponent(res.trailer?.get("grpc-message") ?? "")).toBe(feb30Message);
  });
});
