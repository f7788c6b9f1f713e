/**
 * Opaque page tokens: a keyset cursor plus the snapshot instant of the first page, bound to the tenant and
 * the exact query, and signed with the server secret (HMAC-SHA-256, WebCrypto, so Workers can sign too).
 * A token of another query, another tenant, or altered in any byte is refused with `invalid_argument`.
 */
import { invalidArgument } from "../store/errors.ts";

export interface PageState<C> {
  /** Only events ingested at or before this instant count, on every page of the query. */
  asOf: number;
  cursor: C;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class PageTokens {
  private readonly key: Promise<CryptoKey>;

  constructor(secret: Uint8Array<ArrayBuffer>) {
    this.key = crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
  }

  /** `scope` identifies tenant, RPC and query; see `queryScope`. */
  async sign<C>(scope: string, state: PageState<C>): Promise<string> {
    const body = encoder.encode(JSON.stringify({ a: state.asOf, c: state.cursor }));
    const mac = await crypto.subtle.sign("HMAC", await this.key, concat(encoder.encode(`${scope}\n`), body));
    return `${base64url(body)}.${base64url(new Uint8Array(mac).subarray(0, 16))}`;
  }

  async open<C>(scope: string, token: string): Promise<PageState<C>> {
    const [bodyText, macText, extra] = token.split(".");
    const body = bodyText === undefined ? undefined : fromBase64url(bodyText);
    const mac = macText === undefined ? undefined : fromBase64url(macText);
    if (extra !== undefined || !body || !mac || mac.length !== 16) {
      throw invalidArgument("pageToken", "not a page token of this server");
    }
    const expected = new Uint8Array(
      await crypto.subtle.sign("HMAC", await this.key, concat(encoder.encode(`${scope}\n`), body)),
    ).subarray(0, 16);
    if (!constantTimeEqual(expected, mac)) {
      throw invalidArgument(
        "pageToken",
        "does not belong to this query (or was altered); start again without it",
      );
    }
    const parsed = JSON.parse(decoder.decode(body)) as { a: number; c: C };
    return { asOf: parsed.a, cursor: parsed.c };
  }
}

/** The scope a token is bound to: tenant, RPC, and a digest of the request without its paging fields. */
export async function queryScope(tenant: string, rpc: string, canonicalRequest: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(canonicalRequest));
  return `${tenant}\n${rpc}\n${base64url(new Uint8Array(digest))}`;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length > 4096) return undefined;
  try {
    const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}
