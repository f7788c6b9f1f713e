/**
 * API keys kept in the store itself (`sys:apikeys:<id>`), so that every process and Worker sharing the
 * store sees a key the moment it is created and stops accepting it the moment it is revoked: the record is
 * read on every request that presents a stored key, never cached.
 *
 * A key reads `tly_<id>_<secret>`. The id (16 base-32 characters) is public and only finds the record; the
 * record holds the SHA-256 of the whole key, which the caller compares in constant time. The key itself is
 * returned once, at creation, and stored nowhere.
 */

import type { Storage } from "unstorage";
import { TallyError } from "./errors.ts";
import { API_KEYS_PREFIX, apiKeyKey, isValidTenant, KEY_ID_PATTERN } from "./keys.ts";
import { guardStorage } from "./storage-errors.ts";

export interface KeyRecord {
  id: string;
  /** Hex SHA-256 of the whole key. */
  hash: string;
  tenant: string;
  scopes: string[];
  name: string;
  /** ms since the epoch. */
  created: number;
  revoked?: number;
  /** QueryGeo floor for this key (0: none of its own). */
  minGeoCount?: number;
}

/** `tly_<16 base-32 id>_<43 base64url characters = 256 random bits>` */
export const STORED_KEY_PATTERN = /^tly_([a-z2-7]{16})_[A-Za-z0-9_-]{43}$/;

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

export class KeyRecords {
  /** Whether any key was ever stored (keys are revoked, not removed, so once true it stays true). */
  private known = false;

  private readonly storage: Storage;

  /** Storage errors reach callers as unavailable or resource_exhausted, like the event store's. */
  constructor(storage: Storage) {
    this.storage = guardStorage(storage);
  }

  /** Makes a key and stores its record; the key is returned here and nowhere else. */
  async create(fields: {
    tenant: string;
    scopes: string[];
    name: string;
    minGeoCount?: number;
    now: number;
  }): Promise<{ key: string; record: KeyRecord }> {
    if (!isValidTenant(fields.tenant)) throw new TallyError("invalid_argument", "tenant: invalid tenant");
    const random = new Uint8Array(16 + 32);
    crypto.getRandomValues(random);
    const id = Array.from(random.subarray(0, 16), (b) => BASE32[b & 31]).join("");
    const key = `tly_${id}_${base64url(random.subarray(16))}`;
    const record: KeyRecord = {
      id,
      hash: await sha256Hex(key),
      tenant: fields.tenant,
      scopes: [...fields.scopes],
      name: fields.name,
      created: Math.floor(fields.now),
      ...(fields.minGeoCount ? { minGeoCount: fields.minGeoCount } : {}),
    };
    await this.write(record);
    this.known = true;
    return { key, record };
  }

  /** The record of a key id, read now (never from a cache), or undefined. */
  async get(id: string): Promise<KeyRecord | undefined> {
    if (!KEY_ID_PATTERN.test(id)) return undefined;
    let text: unknown;
    try {
      text = await this.storage.getItem(apiKeyKey(id));
    } catch (cause) {
      throw new TallyError("unavailable", "cannot read the key store; retry", { cause });
    }
    if (text === null || text === undefined) return undefined;
    return (typeof text === "string" ? JSON.parse(text) : text) as KeyRecord;
  }

  async list(tenant: string): Promise<KeyRecord[]> {
    const keys = await this.storage.getKeys(API_KEYS_PREFIX);
    const records = await Promise.all(keys.map((k) => this.get(k.slice(k.lastIndexOf(":") + 1))));
    return records
      .filter((r): r is KeyRecord => r !== undefined && r.tenant === tenant)
      .sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1));
  }

  /** Marks a key of `tenant` revoked; not_found when the tenant has no such key. */
  async revoke(tenant: string, id: string, now: number): Promise<KeyRecord> {
    const record = await this.get(id);
    // Another tenant's key is "not found" too: an admin learns nothing about other tenants' ids.
    if (!record || record.tenant !== tenant) throw new TallyError("not_found", `id: no key ${id}`);
    if (record.revoked !== undefined) return record;
    const revoked = { ...record, revoked: Math.floor(now) };
    await this.write(revoked);
    return revoked;
  }

  /** Whether the store holds any key record at all (a server with none may run open on loopback). */
  async any(): Promise<boolean> {
    if (this.known) return true;
    this.known = (await this.storage.getKeys(API_KEYS_PREFIX)).length > 0;
    return this.known;
  }

  private async write(record: KeyRecord) {
    try {
      await this.storage.setItem(apiKeyKey(record.id), JSON.stringify(record));
    } catch (cause) {
      throw new TallyError("unavailable", "cannot write the key store; nothing was changed, retry", {
        cause,
      });
    }
  }
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Whether two strings are equal, in time that depends only on their lengths: every character is looked
 * at whatever the first difference. Used on hex hashes (fixed length), so the length says nothing.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
