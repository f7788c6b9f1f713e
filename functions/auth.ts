/**
 * Who is calling: the tenant and scopes come from the API key (`Authorization: Bearer <key>`), never from
 * the request body. Keys are configured as SHA-256 hashes, so the configuration holds no usable secret.
 */
import { TallyError } from "../store/errors.ts";
import { constantTimeEqual, type KeyRecords, STORED_KEY_PATTERN, sha256Hex } from "../store/key-records.ts";
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
  /** QueryGeo answers this key no bin with fewer events (a privacy floor). */
  minGeoCount?: number;
}

export interface Principal {
  tenant: string;
  scopes: ReadonlySet<Scope>;
  /** Which key: the stored key's id, or `config:<name or hash prefix>`; `open` without keys. */
  keyId: string;
  /** The key's own QueryGeo floor (0: none). */
  minGeoCount: number;
}

/** Whether a principal's key is a stored one (revocable), not a configured key or open mode. */
export function isStoredKey(keyId: string): boolean {
  return keyId !== "open" && !keyId.startsWith("config:");
}

/** The tenant served when no keys are configured (loopback only; see config.ts). */
export const OPEN_TENANT = "default";

/**
 * Keys come from two places: the configuration file (hashes; the bootstrap, and the only way on a store
 * nobody has written keys to yet) and the store itself (key-records.ts; `tally keys create`), read on
 * every request so that a revocation holds at once on every process sharing the store.
 */
export class Authenticator {
  private readonly configured: { hash: string; principal: Principal }[] | undefined;

  /** `keys` undefined and no stored keys means open mode: every caller is tenant "default", every scope. */
  constructor(
    keys: readonly KeyEntry[] | undefined,
    readonly records?: KeyRecords,
  ) {
    if (!keys) return;
    this.configured = [];
    for (const key of keys) {
      if (!/^[0-9a-f]{64}$/.test(key.hash))
        throw new Error(`[tally] key ${key.name ?? ""}: hash must be 64 hex digits`);
      if (!isValidTenant(key.tenant))
        throw new Error(`[tally] key ${key.name ?? ""}: invalid tenant ${key.tenant}`);
      for (const s of key.scopes)
        if (!SCOPES.includes(s)) throw new Error(`[tally] key ${key.name ?? ""}: unknown scope ${s}`);
      const floor = key.minGeoCount ?? 0;
      if (!Number.isInteger(floor) || floor < 0)
        throw new Error(`[tally] key ${key.name ?? ""}: minGeoCount must be a whole number >= 0`);
      this.configured.push({
        hash: key.hash,
        principal: {
          tenant: key.tenant,
          scopes: new Set(key.scopes),
          keyId: `config:${key.name ?? key.hash.slice(0, 8)}`,
          minGeoCount: floor,
        },
      });
    }
  }

  /** Whether any key exists (configured or stored): then every request needs one. */
  async keyed(): Promise<boolean> {
    return this.configured !== undefined || ((await this.records?.any()) ?? false);
  }

  /** The caller, if it holds `scope`; otherwise `unauthenticated` or `permission_denied`. */
  async authorize(headers: Headers, scope: Scope): Promise<Principal> {
    if (!(await this.keyed()))
      return { tenant: OPEN_TENANT, scopes: new Set(SCOPES), keyId: "open", minGeoCount: 0 };
    const header = headers.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match)
      throw new TallyError("unauthenticated", "missing API key: send `Authorization: Bearer <key>`");
    const principal = await this.identify(match[1]!);
    if (!principal.scopes.has(scope)) {
      throw new TallyError("permission_denied", `this API key lacks the \`${scope}\` scope`);
    }
    return principal;
  }

  /**
   * The key's principal. Only hashes are compared, in constant time, and every configured entry is
   * compared (no early exit), so timing tells nothing about how close a guess came. A stored key's record
   * is found by its public id, never by the secret.
   */
  private async identify(key: string): Promise<Principal> {
    const hash = await sha256Hex(key);
    let found: Principal | undefined;
    for (const entry of this.configured ?? []) {
      if (constantTimeEqual(entry.hash, hash)) found = entry.principal;
    }
    if (found) return found;
    const id = STORED_KEY_PATTERN.exec(key)?.[1];
    const record = id && this.records ? await this.records.get(id) : undefined;
    if (!record || !constantTimeEqual(record.hash, hash))
      throw new TallyError("unauthenticated", "unknown API key");
    if (record.revoked !== undefined) throw new TallyError("unauthenticated", "this API key was revoked");
    return {
      tenant: record.tenant,
      scopes: new Set(record.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s))),
      keyId: record.id,
      minGeoCount: record.minGeoCount ?? 0,
    };
  }
}

export { sha256Hex };
