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
    return this.seal(scope, { a: state.asOf, c: state.cursor });
  }

  async open<C>(scope: string, token: string): Promise<PageState<C>> {
    const parsed = await this.unseal<{ a: number; c: C }>(scope, token);
    if (parsed === "malformed") throw invalidArgument("pageToken", "not a page token of this server");
    if (parsed === "forged") {
      throw invalidArgument(
        "pageToken",
        "does not belong to this query (or was altered); start again without it",
      );
    }
    return { asOf: parsed.a, cursor: parsed.c };
  }

  /** Any JSON value, signed for `scope`: `<base64url JSON>.<base64url MAC>`. */
  async seal(scope: string, value: unknown): Promise<string> {
    const body = encoder.encode(JSON.stringify(value));
    const mac = await crypto.subtle.sign("HMAC", await this.key, concat(encoder.encode(`${scope}\n`), body));
    return `${base64url(body)}.${base64url(new Uint8Array(mac).subarray(0, 16))}`;
  }

  /** The value sealed for `scope`, or why not: "malformed" (not a token at all) or "forged". */
  async unseal<T>(scope: string, token: string): Promise<T | "malformed" | "forged"> {
    const [bodyText, macText, extra] = token.split(".");
    const body = bodyText === undefined ? undefined : fromBase64url(bodyText);
    const mac = macText === undefined ? undefined : fromBase64url(macText);
    if (extra !== undefined || !body || !mac || mac.length !== 16) return "malformed";
    const expected = new Uint8Array(
      await crypto.subtle.sign("HMAC", await this.key, concat(encoder.encode(`${scope}\n`), body)),
    ).subarray(0, 16);
    if (!constantTimeEqual(expected, mac)) return "forged";
    return JSON.parse(decoder.decode(body)) as T;
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
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length > 65_536) return undefined;
  try {
    const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(s, (c) => c.charCodeAt(0));
    // Only the canonical text: atob ignores a last character's padding bits, so several texts decode to
    // the same bytes, and an altered token would pass.
    return base64url(bytes) === text ? bytes : undefined;
  } catch {
    return undefined;
  }
}
