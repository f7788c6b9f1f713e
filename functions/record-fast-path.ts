/**
 * The ingest fast path: RecordEvents over the Connect protocol's unary binary form (`POST
 * /telemetry.v1.TelemetryService/RecordEvents`, `Content-Type: application/proto`), served with the
 * hand-written decoder of record-decoder.ts instead of @bufbuild/protobuf's `fromBinary`, whose generic
 * `google.protobuf.Struct` decoding caps ingest at ~50 k events/s. Every other request goes on to the
 * Connect router untouched (`next()`).
 *
 * Apart from decoding, it is the Connect handler: the same router options (routes.ts), the same steps in
 * the same order as connect-es's unary handler (timeout header, compression negotiation, body limit,
 * gzip, decompressed-size limit), the same service implementation behind the same interceptors (so
 * errors go through toConnectError), and the same response: status, headers, error JSON, gzip of
 * bodies ≥ 1 KiB when the client accepts it. record-fast-path.test.ts compares the two response by
 * response.
 *
 * A body that is not a valid RecordEventsRequest is `invalid_argument` ("events: cannot decode request:
 * …"), as on the generic path, where parse-errors.ts maps connect-es's `internal` ("parse binary: …").
 *
 * Runtime-neutral (fetch API only), like the rest of the app.
 */
import { Code, ConnectError, createHandlerContext, createMethodImplSpec } from "@connectrpc/connect";
import {
  compressionNegotiate,
  createMethodSerializationLookup,
  invokeUnaryImplementation,
  limitSerialization,
  readAllBytes,
  type Serialization,
  universalServerRequestFromFetch,
  validateUniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  errorToJsonBytes,
  parseContentType,
  parseTimeout,
  protocolVersion,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
import type { MiddlewareHandler } from "hono";
import {
  type RecordEventsRequest,
  type RecordEventsResponse,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { invalidArgument } from "../store/errors.ts";
import { toConnectError } from "./errors.ts";
import type { Limits } from "./limits.ts";
import { decodeRecordRequest } from "./record-decoder.ts";
import { routerOptions } from "./routes.ts";
import { type ServiceDeps, telemetryService } from "./service.ts";

const method = TelemetryService.method.recordEvents;
/** "/telemetry.v1.TelemetryService/RecordEvents" */
export const RECORD_EVENTS_PATH = `/${TelemetryService.typeName}/${method.name}`;

/** A request's body as bytes, as connect-es reads it from a fetch Request. */
type Body = AsyncIterable<Uint8Array>;

export function recordFastPath(deps: ServiceDeps): MiddlewareHandler {
  const opt = validateUniversalHandlerOptions(routerOptions(deps));
  const service = telemetryService(deps);
  const spec = createMethodImplSpec(method, service.recordEvents.bind(service));
  if (spec.kind !== "unary") throw new Error("RecordEvents must be unary");
  const output = createMethodSerializationLookup(method, opt.binaryOptions, opt.jsonOptions, opt).getO(true);
  const input = limitSerialization(recordSerialization(deps.limits), opt);

  return async (c, next) => {
    if (c.req.method !== "POST" || c.req.path !== RECORD_EVENTS_PATH) return next();
    const type = parseContentType(c.req.header("Content-Type") ?? null);
    if (!type || type.stream || !type.binary) return next();

    // From here on, connect-es's unary handler (protocol-connect/handler-factory.js), binary POST only.
    const raw = c.req.raw;
    const header = raw.headers;
    const timeout = parseTimeout(header.get("Connect-Timeout-Ms"), opt.maxTimeoutMs);
    const context = createHandlerContext({
      service: method.parent,
      method,
      protocolName: "connect",
      requestMethod: raw.method,
      url: raw.url,
      timeoutMs: timeout.timeoutMs,
      shutdownSignal: opt.shutdownSignal,
      requestSignal: raw.signal,
      requestHeader: header,
      responseHeader: { "Content-Type": "application/proto" },
    });
    const compression = compressionNegotiate(
      opt.acceptCompression,
      header.get("Content-Encoding"),
      header.get("Accept-Encoding"),
      "Accept-Encoding",
    );
    let status = 200;
    let body: Uint8Array;
    try {
      if (opt.requireConnectProtocolHeader) requireProtocolVersion(header);
      if (compression.error) throw compression.error;
      if (timeout.error) throw timeout.error;
      const requestBody = universalServerRequestFromFetch(raw, {}).body as Body;
      let bytes = await readAllBytes(requestBody, opt.readMaxBytes, header.get("Content-Length"));
      if (compression.request) bytes = await compression.request.decompress(bytes, opt.readMaxBytes);
      const req = input.parse(bytes);
      const res = await invokeUnaryImplementation(spec, context, req, opt.interceptors);
      body = output.serialize(res as RecordEventsResponse);
    } catch (e) {
      context.abort(e);
      const error =
        e instanceof ConnectError
          ? e
          : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
      status = codeToHttpStatus(error.code);
      context.responseHeader.set("Content-Type", "application/json");
      error.metadata.forEach((value, key) => {
        context.responseHeader.set(key, value);
      });
      body = errorToJsonBytes(error, opt.jsonOptions);
    } finally {
      context.abort();
    }
    if (compression.response && body.byteLength >= opt.compressMinBytes) {
      body = await compression.response.compress(body);
      context.responseHeader.set("Content-Encoding", compression.response.name);
    }
    const headers = trailerMux(context.responseHeader, context.responseTrailer);
    headers.set("Content-Length", body.byteLength.toString(10));
    return new Response(body as Uint8Array<ArrayBuffer>, { status, headers });
  };
}

/** Binary RecordEventsRequest parsing with the fast decoder; input it cannot decode is invalid_argument. */
function recordSerialization(limits: Limits): Serialization<RecordEventsRequest> {
  return {
    parse(bytes) {
      try {
        return decodeRecordRequest(bytes, true, limits);
      } catch (e) {
        const detail = e instanceof Error ? e.message : String(e);
        throw toConnectError(invalidArgument("events", `cannot decode request: ${detail}`));
      }
    },
    serialize() {
      throw new Error("the RecordEvents fast path only reads requests");
    },
  };
}

/** connect-es's check of the Connect-Protocol-Version header, when the router options require it. */
function requireProtocolVersion(header: Headers): void {
  const v = header.get("Connect-Protocol-Version");
  if (v === null) {
    throw new ConnectError(
      `missing required header: set Connect-Protocol-Version to "${protocolVersion}"`,
      Code.InvalidArgument,
    );
  }
  if (v !== protocolVersion) {
    throw new ConnectError(
      `Connect-Protocol-Version must be "${protocolVersion}": got "${v}"`,
      Code.InvalidArgument,
    );
  }
}
