/**
 * The storage key layout, and the allow-lists every request-derived key part passes before it reaches a
 * driver. unstorage treats `:` and `/` as separators, drops everything after `?`, hides keys ending in `$`
 * and lets `..` escape a filesystem base: none of those characters can get through these patterns.
 *
 * Layout: `v1:<tenant>:<module>:ev:<yyyymmdd>:<segment>` — one immutable segment per write, partitioned by
 * UTC day so that a query lists and reads only the days its range touches.
 */

/** Module names: as the API contract states. */
export const MODULE_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
/** Tenant names come from configuration, never from a request; still checked before use. */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const DAY_PATTERN = /^\d{8}$/;
const SEGMENT_PATTERN = /^[a-z0-9]{1,64}$/;

const ROOT = "v1";
/** The root of every tenant's events: listing it lists every tenant. */
export const EVENTS_ROOT = ROOT;

/** Just past the last instant a partition key can name (10000-01-01T00:00:00Z). */
export const END_OF_TIME = 253_402_300_800_000;

export function isValidModule(module: string): boolean {
  return MODULE_PATTERN.test(module);
}

export function isValidTenant(tenant: string): boolean {
  return TENANT_PATTERN.test(tenant);
}

function check(part: string, pattern: RegExp, what: string): string {
  if (!pattern.test(part))
    throw new Error(`[tally] invalid ${what} in a storage key: ${JSON.stringify(part)}`);
  return part;
}

/** The prefix under which all of one module's events live. */
export function eventsPrefix(tenant: string, module: string): string {
  return `${ROOT}:${check(tenant, TENANT_PATTERN, "tenant")}:${check(module, MODULE_PATTERN, "module")}:ev`;
}

/** The UTC day partition of an instant (ms since the epoch), as `yyyymmdd`. */
export function dayOf(ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear().toString().padStart(4, "0");
  const m = (d.getUTCMonth() + 1).toString().padStart(2, "0");
  const day = d.getUTCDate().toString().padStart(2, "0");
  return `${y}${m}${day}`;
}

/** The first instant of a `yyyymmdd` partition. */
export function dayStart(day: string): number {
  check(day, DAY_PATTERN, "day");
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)));
}

export function segmentKey(tenant: string, module: string, day: string, segment: string): string {
  return `${eventsPrefix(tenant, module)}:${check(day, DAY_PATTERN, "day")}:${check(segment, SEGMENT_PATTERN, "segment")}`;
}

/** Splits a key listed under `eventsPrefix` into its day and segment, or undefined for a foreign key. */
export function parseSegmentKey(prefix: string, key: string): { day: string; segment: string } | undefined {
  if (!key.startsWith(`${prefix}:`)) return undefined;
  const rest = key.slice(prefix.length + 1).split(":");
  if (rest.length !== 2) return undefined;
  const [day, segment] = rest as [string, string];
  if (!DAY_PATTERN.test(day) || !SEGMENT_PATTERN.test(segment)) return undefined;
  return { day, segment };
}

/**
 * Store metadata lives under its own root, `sys`, beside `v1`: no tenant or module name can reach it, and
 * listing a tenant (`v1:<tenant>`) never lists it.
 *
 *   sys:apikeys:<id>                          a stored API key (its hash, tenant, scopes; key-records.ts)
 *   sys:tombstones:<tenant>.<module|_>.<day|_>.<nonce>   a deletion in progress (tombstones.ts)
 *   sys:enckeys:<key id>                      a value sealed with that encryption key (encryption-check.ts)
 */
const SYS = "sys";
export const API_KEYS_PREFIX = `${SYS}:apikeys`;
export const TOMBSTONES_PREFIX = `${SYS}:tombstones`;
export const ENCRYPTION_CHECKS_PREFIX = `${SYS}:enckeys`;
/** Stored API key ids: base-32 lower case, as key-records.ts makes them. */
export const KEY_ID_PATTERN = /^[a-z2-7]{16}$/;
const NONCE_PATTERN = /^[a-z0-9]{1,32}$/;

export function apiKeyKey(id: string): string {
  return `${API_KEYS_PREFIX}:${check(id, KEY_ID_PATTERN, "key id")}`;
}

/** What a tombstone covers: a tenant, one of its modules, or one day of a module. */
export interface TombstoneScope {
  tenant: string;
  module?: string;
  day?: string;
}

export function tombstoneKey(scope: TombstoneScope, nonce: string): string {
  const tenant = check(scope.tenant, TENANT_PATTERN, "tenant");
  const module = scope.module === undefined ? "_" : check(scope.module, MODULE_PATTERN, "module");
  const day = scope.day === undefined ? "_" : check(scope.day, DAY_PATTERN, "day");
  return `${TOMBSTONES_PREFIX}:${tenant}.${module}.${day}.${check(nonce, NONCE_PATTERN, "nonce")}`;
}

export function parseTombstoneKey(key: string): (TombstoneScope & { nonce: string }) | undefined {
  if (!key.startsWith(`${TOMBSTONES_PREFIX}:`)) return undefined;
  const parts = key.slice(TOMBSTONES_PREFIX.length + 1).split(".");
  if (parts.length !== 4) return undefined;
  const [tenant, module, day, nonce] = parts as [string, string, string, string];
  if (!TENANT_PATTERN.test(tenant) || !NONCE_PATTERN.test(nonce)) return undefined;
  if (module !== "_" && !MODULE_PATTERN.test(module)) return undefined;
  if (day !== "_" && !DAY_PATTERN.test(day)) return undefined;
  return {
    tenant,
    ...(module === "_" ? {} : { module }),
    ...(day === "_" ? {} : { day }),
    nonce,
  };
}

/** The prefix of all of one tenant's events, every module. */
export function tenantPrefix(tenant: string): string {
  return `${ROOT}:${check(tenant, TENANT_PATTERN, "tenant")}`;
}

/** Splits any event key (`v1:<tenant>:<module>:ev:<day>:<segment>`), or undefined for anything else. */
export function parseEventKey(
  key: string,
): { tenant: string; module: string; day: string; segment: string } | undefined {
  const parts = key.split(":");
  if (parts.length !== 6 || parts[0] !== ROOT || parts[3] !== "ev") return undefined;
  const [, tenant, module, , day, segment] = parts as [string, string, string, string, string, string];
  if (!TENANT_PATTERN.test(tenant) || !MODULE_PATTERN.test(module)) return undefined;
  if (!DAY_PATTERN.test(day) || !SEGMENT_PATTERN.test(segment)) return undefined;
  return { tenant, module, day, segment };
}

/** When a segment was written (ms), from the first 11 base-36 digits of its name (microseconds). */
export function segmentWrittenAt(segment: string): number {
  return Number.parseInt(segment.slice(0, 11), 36) / 1000;
}
