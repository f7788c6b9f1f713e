/**
 * Binary protobuf a server cannot parse is the client's fault, but connect-es answers it as `internal`
 * ("parse binary: …", HTTP 500), before any interceptor runs — on every protocol. This wraps the router's
 * handlers and rewrites exactly that error into `invalid_argument` ("cannot decode request: …"), as the
 * RecordEvents fast path already answers, in each protocol's own form:
 *
 * - Connect unary: the 500 JSON error body;
 * - Connect streaming: the end-stream frame's JSON (flag 0x02);
 * - gRPC-web: the trailer frame (flag 0x80) inside the body;
 * - gRPC: the HTTP/2 trailers, fixed when the body ends and before the adapter sends them.
 *
 * Only error responses and end/trailer frames are looked at; data frames pass through untouched, so
 * streams stay streams. Runtime-neutral.
 */
import type { ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";

const PREFIX = "parse binary: ";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function renamed(message: string): string | undefined {
  return message.startsWith(PREFIX) ? `cannot decode request: ${message.slice(PREFIX.length)}` : undefined;
}

/** Replaces the router's handlers in place (servers read `router.handlers` after `routes` ran). */
export function mapParseErrors(router: ConnectRouter): void {
  const handlers = router.handlers as UniversalHandler[];
  for (let i = 0; i < handlers.length; i++) handlers[i] = wrap(handlers[i]!);
}

function wrap(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (req: Parameters<UniversalHandler>[0]) => fix(await handler(req));
  return Object.assign(wrapped, {
    protocolNames: handler.protocolNames,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
    requestPath: handler.requestPath,
    service: handler.service,
    method: handler.method,
  }) as UniversalHandler;
}

async function fix(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  const type = res.header?.get("content-type") ?? "";
  if (res.status === 500 && type.startsWith("application/json") && res.body) {
    return fixUnaryJson(res, res.body);
  }
  if (!res.body) {
    if (res.trailer) fixGrpcHeaders(res.trailer);
    return res;
  }
  if (type.startsWith("application/grpc-web")) {
    return { ...res, body: frames(res.body, 0x80, fixGrpcWebTrailer) };
  }
  if (type.startsWith("application/connect+")) {
    return { ...res, body: frames(res.body, 0x02, fixEndStream) };
  }
  if (res.trailer && type.startsWith("application/grpc")) {
    const trailer = res.trailer;
    return { ...res, body: thenFix(res.body, () => fixGrpcHeaders(trailer)) };
  }
  return res;
}

async function fixUnaryJson(res: UniversalServerResponse, body: AsyncIterable<Uint8Array>) {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  let bytes = concat(chunks);
  try {
    const error = JSON.parse(decoder.decode(bytes)) as { code?: string; message?: string };
    const message = error.code === "internal" ? renamed(error.message ?? "") : undefined;
    if (message !== undefined) {
      bytes = encoder.encode(JSON.stringify({ code: "invalid_argument", message }));
      res.header?.set("content-length", String(bytes.byteLength));
      return { ...res, status: 400, body: once(bytes) };
    }
  } catch {
    // Not an error body we know: leave it as it was.
  }
  return { ...res, body: once(bytes) };
}

function fixGrpcHeaders(headers: Headers): void {
  if (headers.get("grpc-status") !== "13") return;
  const message = renamed(safeDecode(headers.get("grpc-message") ?? ""));
  if (message === undefined) return;
  headers.set("grpc-status", "3");
  headers.set("grpc-message", encodeURIComponent(message));
}

function fixGrpcWebTrailer(payload: Uint8Array): Uint8Array {
  const headers = new Headers();
  for (const line of decoder.decode(payload).split("\r\n")) {
    const at = line.indexOf(":");
    if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  if (headers.get("grpc-status") !== "13") return payload;
  fixGrpcHeaders(headers);
  let text = "";
  headers.forEach((value, key) => {
    text += `${key}: ${value}\r\n`;
  });
  return encoder.encode(text);
}

function fixEndStream(payload: Uint8Array): Uint8Array {
  try {
    const end = JSON.parse(decoder.decode(payload)) as { error?: { code?: string; message?: string } };
    const message = end.error?.code === "internal" ? renamed(end.error.message ?? "") : undefined;
    if (message === undefined) return payload;
    return encoder.encode(JSON.stringify({ ...end, error: { code: "invalid_argument", message } }));
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
