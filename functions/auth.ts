/**
 * Who is calling: the tenant and scopes come from the API key (`Authorization: Bearer <key>`), never from
 * the request body. Keys are configured as SHA-256 hashes, so the configuration holds no usable secret.
 */
import { TallyError } from "../store/errors.ts";
import { isValidTenant } from "../store/keys.ts";

export type Scope = "ingest" | "read" | "admin";
export const SCOPES: readonly Scope[] = ["ingest", "read", "admin"];

export interface KeyEntry {
  /** Hex SHA-256 of the key (`npm run key -- <tenant> <scopes>` prints a key and its entry). */
  hash: string;
  tenant: string;
  scopes: Scope[];
  /** A label for people; never used for access. */
  name?: string;
}

export interface Principal {
  tenant: string;
  scopes: ReadonlySet<Scope>;
}

/** The tenant served when no keys are configured (loopback only; see config.ts). */
export const OPEN_TENANT = "default";

export class Authenticator {
  private readonly byHash: Map<string, Principal> | undefined;

  /** `keys` undefined means open mode: every caller is tenant "default" with every scope. */
  constructor(keys: readonly KeyEntry[] | undefined) {
    if (!keys) return;
    this.byHash = new Map();
    for (const key of keys) {
      if (!/^[0-9a-f]{64}$/.test(key.hash))
        throw new Error(`[tally] key ${key.name ?? ""}: hash must be 64 hex digits`);
      if (!isValidTenant(key.tenant))
        throw new Error(`[tally] key ${key.name ?? ""}: invalid tenant ${key.tenant}`);
      for (const s of key.scopes)
        if (!SCOPES.includes(s)) throw new Error(`[tally] key ${key.name ?? ""}: unknown scope ${s}`);
      this.byHash.set(key.hash, { tenant: key.tenant, scopes: new Set(key.scopes) });
    }
  }

  get open(): boolean {
    return this.byHash === undefined;
  }

  /** The caller, if it holds `scope`; otherwise `unauthenticated` or `permission_denied`. */
  async authorize(headers: Headers, scope: Scope): Promise<Principal> {
    if (!this.byHash) return { tenant: OPEN_TENANT, scopes: new Set(SCOPES) };
    const header = headers.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match)
      throw new TallyError("unauthenticated", "missing API key: send `Authorization: Bearer <key>`");
    const principal = this.byHash.get(await sha256Hex(match[1]!));
    if (!principal) throw new TallyError("unauthenticated", "unknown API key");
    if (!principal.scopes.has(scope)) {
      throw new TallyError("permission_denied", `this API key lacks the \`${scope}\` scope`);
    }
    return principal;
  }
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
