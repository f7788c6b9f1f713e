/**
 * connect-es answers two kinds of undecodable request in ways the contract does not accept, before any
 * interceptor runs — on every protocol. This wraps the router's handlers and rewrites exactly those errors:
 *
 * - Binary protobuf it cannot parse is the client's fault, but comes back as `internal` ("parse binary: …",
 *   HTTP 500): it becomes `invalid_argument` ("cannot decode request: …"), as the RecordEvents fast path
 *   already answers.
 * - JSON it cannot decode (an unknown key, an enum name it does not know, a `time` that is not RFC 3339)
 *   is `invalid_argument`, but its message names a message type rather than the field ("cannot decode
 *   message google.protobuf.Timestamp from JSON: …"): the message is prefixed with the field's path in the
 *   request (`events[3].time: …`, json-error-path.ts), which is found in a copy of the request body kept
 *   for that purpose.
 *
 * Each in the protocol's own form:
 *
 * - Connect unary: the JSON error body;
 * - Connect streaming: the end-stream frame's JSON (flag 0x02);
 * - gRPC-web: the trailer frame (flag 0x80) inside the body;
 * - gRPC: the HTTP/2 trailers, fixed when the body ends and before the adapter sends them.
 *
 * Only error responses and end/trailer frames are looked at; data frames pass through untouched, so
 * streams stay streams. Runtime-neutral.
 */
import type { DescMessage, JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type {
  UniversalHandler,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { gunzipSync } from "fflate";
import { gzip } from "./compression.ts";
import { jsonErrorPath } from "./json-error-path.ts";
import { timestampFault } from "./strict-timestamps.ts";

const PREFIX = "parse binary: ";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An error's Connect code and message, rewritten, or undefined to leave it as it is. */
type Rewrite = (code: string, message: string) => { code: string; message: string } | undefined;

const GRPC_CODES: Record<string, string> = { "3": "invalid_argument", "13": "internal" };
const GRPC_STATUS: Record<string, string> = { invalid_argument: "3", internal: "13" };
const HTTP_STATUS: Record<string, number> = { invalid_argument: 400, internal: 500 };

function renamedBinary(code: string, message: string) {
  return code === "internal" && message.startsWith(PREFIX)
    ? { code: "invalid_argument", message: `cannot decode request: ${message.slice(PREFIX.length)}` }
    : undefined;
}

const JSON_TYPE = /^application\/(?:(connect|grpc-web|grpc)\+)?json\b/i;

/**
 * Keeps a copy of a JSON request's bytes as connect-es reads them; `json()` decodes them (unary body, or
 * the first enveloped message, gunzipped when compressed) when an error needs the request. When the body
 * has been read, its Timestamps are held to the calendar (strict-timestamps.ts): one that names no real
 * instant fails the read, so the request is refused before its method runs. That check gunzips at most
 * `readMaxBytes`, as connect-es does after it (a gzip bomb is refused by connect-es, unchecked here).
 */
function captureJson(
  req: UniversalServerRequest,
  schema: DescMessage,
  readMaxBytes: number,
): {
  req: UniversalServerRequest;
  json: () => JsonValue | undefined;
} {
  const match = JSON_TYPE.exec(req.header.get("content-type") ?? "");
  const body = req.body;
  if (!match) return { req, json: () => undefined };
  if (body === undefined || body === null || typeof body !== "object" || !(Symbol.asyncIterator in body)) {
    return { req, json: () => body as JsonValue | undefined };
  }
  const chunks: Uint8Array[] = [];
  const enveloped = match[1] !== undefined;
  /** The message's bytes as sent, and whether they are gzipped. */
  const payload = () => {
    let bytes = concat(chunks);
    let compressed = !enveloped && req.header.get("content-encoding")?.toLowerCase() === "gzip";
    if (enveloped) {
      const length = new DataView(bytes.buffer, bytes.byteOffset + 1, 4).getUint32(0);
      compressed = (bytes[0]! & 0x01) !== 0;
      bytes = bytes.subarray(5, 5 + length);
    }
    return { bytes, compressed };
  };
  let read: string | undefined;
  const source = body as AsyncIterable<Uint8Array>;
  const copied = (async function* () {
    for await (const chunk of source) {
      chunks.push(chunk);
      yield chunk;
    }
    try {
      const { bytes, compressed } = payload();
      read = decoder.decode(compressed ? await gzip.decompress(bytes, readMaxBytes) : bytes);
    } catch {
      return; // too large or not gzip: connect-es refuses it next
    }
    const fault = timestampFault(schema, read);
    if (fault !== undefined) throw new ConnectError(fault, Code.InvalidArgument);
  })();
  const json = () => {
    try {
      // An error before the body was read whole: connect-es decompressed it within its limit already.
      if (read === undefined) {
        const { bytes, compressed } = payload();
        read = decoder.decode(compressed ? gunzipSync(bytes) : bytes);
      }
      return JSON.parse(read) as JsonValue;
    } catch {
      return undefined;
    }
  };
  return { req: { ...req, body: copied }, json };
}

function pathNamed(schema: DescMessage, json: () => JsonValue | undefined): Rewrite {
  return (code, message) => {
    if (code !== "invalid_argument" || !message.startsWith("cannot decode ")) return undefined;
    if (message.startsWith("cannot decode request:")) return undefined;
    const request = json();
    if (request === undefined) return undefined;
    const path = jsonErrorPath(schema, request, { ignoreUnknownFields: false });
    return path === undefined ? undefined : { code, message: `${path}: ${message}` };
  };
}

/** Replaces the router's handlers in place (servers read `router.handlers` after `routes` ran). */
export function mapParseErrors(router: ConnectRouter, readMaxBytes: number): void {
  const handlers = router.handlers as UniversalHandler[];
  for (let i = 0; i < handlers.length; i++) handlers[i] = wrap(handlers[i]!, readMaxBytes);
}

function wrap(handler: UniversalHandler, readMaxBytes: number): UniversalHandler {
  const wrapped = async (request: UniversalServerRequest) => {
    const { req, json } = captureJson(request, handler.method.input, readMaxBytes);
    const named = pathNamed(handler.method.input, json);
    return fix(await handler(req), (code, message) => renamedBinary(code, message) ?? named(code, message));
  };
  return Object.assign(wrapped, {
    protocolNames: handler.protocolNames,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
    requestPath: handler.requestPath,
    service: handler.service,
    method: handler.method,
  }) as UniversalHandler;
}

async function fix(res: UniversalServerResponse, rewrite: Rewrite): Promise<UniversalServerResponse> {
  const type = res.header?.get("content-type") ?? "";
  if (res.status >= 400 && type.startsWith("application/json") && res.body) {
    return fixUnaryJson(res, res.body, rewrite);
  }
  if (!res.body) {
    if (res.trailer) fixGrpcHeaders(res.trailer, rewrite);
    return res;
  }
  if (type.startsWith("application/grpc-web")) {
    return { ...res, body: frames(res.body, 0x80, (p) => fixGrpcWebTrailer(p, rewrite)) };
  }
  if (type.startsWith("application/connect+")) {
    return { ...res, body: frames(res.body, 0x02, (p) => fixEndStream(p, rewrite)) };
  }
  if (res.trailer && type.startsWith("application/grpc")) {
    const trailer = res.trailer;
    return { ...res, body: thenFix(res.body, () => fixGrpcHeaders(trailer, rewrite)) };
  }
  return res;
}

async function fixUnaryJson(res: UniversalServerResponse, body: AsyncIterable<Uint8Array>, rewrite: Rewrite) {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  let bytes = concat(chunks);
  try {
    const error = JSON.parse(decoder.decode(bytes)) as { code?: string; message?: string };
    const fixed = rewrite(error.code ?? "", error.message ?? "");
    if (fixed !== undefined) {
      bytes = encoder.encode(JSON.stringify({ ...error, ...fixed }));
      res.header?.set("content-length", String(bytes.byteLength));
      return { ...res, status: HTTP_STATUS[fixed.code] ?? res.status, body: once(bytes) };
    }
  } catch {
    // Not an error body we know: leave it as it was.
  }
  return { ...res, body: once(bytes) };
}

function fixGrpcHeaders(headers: Headers, rewrite: Rewrite): boolean {
  const code = GRPC_CODES[headers.get("grpc-status") ?? ""];
  if (code === undefined) return false;
  const fixed = rewrite(code, safeDecode(headers.get("grpc-message") ?? ""));
  if (fixed === undefined) return false;
  headers.set("grpc-status", GRPC_STATUS[fixed.code]!);
  headers.set("grpc-message", encodeURIComponent(fixed.message));
  return true;
}

function fixGrpcWebTrailer(payload: Uint8Array, rewrite: Rewrite): Uint8Array {
  const headers = new Headers();
  for (const line of decoder.decode(payload).split("\r\n")) {
    const at = line.indexOf(":");
    if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  if (!fixGrpcHeaders(headers, rewrite)) return payload;
  let text = "";
  headers.forEach((value, key) => {
    text += `${key}: ${value}\r\n`;
  });
  return encoder.encode(text);
}

function fixEndStream(payload: Uint8Array, rewrite: Rewrite): Uint8Array {
  try {
    const end = JSON.parse(decoder.decode(payload)) as { error?: { code?: string; message?: string } };
    if (!end.error) return payload;
    const fixed = rewrite(end.error.code ?? "", end.error.message ?? "");
    if (fixed === undefined) return payload;
    return encoder.encode(JSON.stringify({ ...end, error: { ...end.error, ...fixed } }));
  } catch {
    return payload;
  }
}

/**
 * Passes enveloped frames (flags u8, length u32 BE, payload) through as they come, except frames with
 * `endFlag` set and not compressed (flag 0x01), which are collected whole and given to `rewrite`.
 */
async function* frames(
  body: AsyncIterable<Uint8Array>,
  endFlag: number,
  rewrite: (payload: Uint8Array) => Uint8Array,
): AsyncIterable<Uint8Array> {
  let pending: Uint8Array = new Uint8Array(0);
  let passing = 0;
  for await (const chunk of body) {
    let rest = chunk;
    while (rest.length > 0) {
      if (passing > 0) {
        const n = Math.min(passing, rest.length);
        yield rest.subarray(0, n);
        passing -= n;
        rest = rest.subarray(n);
        continue;
      }
      pending = concat([pending, rest]);
      rest = new Uint8Array(0);
      if (pending.length < 5) break;
      const flags = pending[0]!;
      const length = new DataView(pending.buffer, pending.byteOffset + 1, 4).getUint32(0);
      if ((flags & endFlag) === 0 || (flags & 0x01) !== 0) {
        const n = Math.min(pending.length, 5 + length);
        yield pending.subarray(0, n);
        passing = 5 + length - n;
        rest = pending.subarray(n);
        pending = new Uint8Array(0);
        continue;
      }
      if (pending.length < 5 + length) break;
      const payload = rewrite(pending.subarray(5, 5 + length));
      const frame = new Uint8Array(5 + payload.length);
      frame[0] = flags;
      new DataView(frame.buffer).setUint32(1, payload.length);
      frame.set(payload, 5);
      yield frame;
      rest = pending.subarray(5 + length);
      pending = new Uint8Array(0);
    }
  }
  if (pending.length > 0) yield pending;
}

async function* thenFix(body: AsyncIterable<Uint8Array>, after: () => void): AsyncIterable<Uint8Array> {
  try {
    yield* body;
  } finally {
    after();
  }
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
