/**
 * Raw requests for the fuzz suite, on the wire as clients send them — Connect (JSON and binary, unary and
 * server-streaming) and gRPC-web — and the one thing the suite needs from each answer: its Connect code.
 */
import { request } from "node:http";
import { gzipSync } from "node:zlib";

export type Wire = "connect-json" | "connect-proto" | "grpc-web";

export const CODES = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
] as const;

export function envelope(payload: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

function frames(body: Uint8Array): { flags: number; payload: Uint8Array }[] {
  const out = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const length = new DataView(body.buffer, body.byteOffset + at + 1, 4).getUint32(0);
    out.push({ flags: body[at]!, payload: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

export interface Sent {
  wire: Wire;
  method: string;
  streaming: boolean;
  body: Uint8Array;
  gzip?: boolean;
  /** Whether `body` is already the whole HTTP body (an envelope, a bomb), not one message to wrap. */
  raw?: boolean;
  /** An API key, sent as `Authorization: Bearer <key>`. */
  key?: string;
}

/**
 * One POST on a connection of its own (`agent: false`): a body over the limit is answered before it is
 * read, and a connection reused after that may be closed under the next request — an HTTP matter, not
 * the answer under test.
 */
function post(url: string, headers: Record<string, string>, body: Uint8Array) {
  return new Promise<{ status: number; headers: Headers; body: Uint8Array }>((resolve, reject) => {
    const req = request(url, { method: "POST", headers, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers: h, body: new Uint8Array(Buffer.concat(chunks)) });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    // The server may answer (and stop reading) before the whole body is written: the answer counts.
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * `post`, again when the connection broke while the body was still being written (EPIPE, ECONNRESET):
 * the server answered a body over its limit and closed before this client read the answer — a race of the
 * sockets, not an answer (it hits one request in thousands). Twice more at most; a server that is down
 * fails all three.
 */
async function postAnswered(url: string, headers: Record<string, string>, body: Uint8Array) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await post(url, headers, body);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (attempt === 3 || (code !== "EPIPE" && code !== "ECONNRESET")) throw error;
    }
  }
}

/** Sends one request and returns its Connect code ("ok" on success), or throws on an answer no protocol allows. */
export async function send(url: string, s: Sent): Promise<string> {
  const headers: Record<string, string> = s.key ? { authorization: `Bearer ${s.key}` } : {};
  let body = s.body;
  if (s.wire === "grpc-web") {
    headers["content-type"] = "application/grpc-web+proto";
    if (s.gzip) headers["grpc-encoding"] = "gzip";
    if (!s.raw) body = envelope(s.gzip ? gzipSync(body) : body, s.gzip ? 1 : 0);
  } else if (s.streaming) {
    headers["content-type"] =
      s.wire === "connect-json" ? "application/connect+json" : "application/connect+proto";
    headers["connect-protocol-version"] = "1";
    if (s.gzip) headers["connect-content-encoding"] = "gzip";
    if (!s.raw) body = envelope(s.gzip ? gzipSync(body) : body, s.gzip ? 1 : 0);
  } else {
    headers["content-type"] = s.wire === "connect-json" ? "application/json" : "application/proto";
    headers["connect-protocol-version"] = "1";
    if (s.gzip) {
      headers["content-encoding"] = "gzip";
      if (!s.raw) body = gzipSync(body);
    }
  }
  const res = await postAnswered(`${url}/telemetry.v1.TelemetryService/${s.method}`, headers, body);
  const bytes = res.body;
  const text = () => new TextDecoder().decode(bytes);
  if (s.wire === "grpc-web") {
    const header = res.headers.get("grpc-status");
    const trailer = frames(bytes).find((f) => f.flags & 0x80);
    const status = header ?? /grpc-status:\s*(\d+)/.exec(new TextDecoder().decode(trailer?.payload))?.[1];
    if (status === undefined) throw new Error(`gRPC-web answer without a status: ${res.status} ${text()}`);
    const code = CODES[Number(status)];
    if (!code) throw new Error(`gRPC-web status ${status} is no Connect code`);
    return code;
  }
  if (s.streaming) {
    if (res.status !== 200) return (JSON.parse(text()) as { code: string }).code;
    const end = frames(bytes).find((f) => f.flags & 0x02);
    if (!end) throw new Error(`Connect stream without an end: ${text().slice(0, 200)}`);
    const json = JSON.parse(new TextDecoder().decode(end.payload)) as { error?: { code: string } };
    return json.error?.code ?? "ok";
  }
  if (res.status === 200) return "ok";
  const json = JSON.parse(text()) as { code?: string };
  if (typeof json.code !== "string") throw new Error(`Connect error without a code: ${res.status} ${text()}`);
  return json.code;
}
