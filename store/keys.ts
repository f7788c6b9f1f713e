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
const DAY_PATTERN = /^\d{8}$/;
const SEGMENT_PATTERN = /^[a-z0-9]{1,64}$/;

const ROOT = "v1";

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

/** The prefix under which all of one tenant's data lives (every module). */
export function tenantPrefix(tenant: string): string {
  return `${ROOT}:${check(tenant, TENANT_PATTERN, "tenant")}`;
}
