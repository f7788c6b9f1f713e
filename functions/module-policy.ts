/**
 * Per-module data-protection settings from the configuration (`modules` in tally.config.json):
 *
 *   retentionDays     partitions older than this many days are dropped (store/retention.ts); events
 *                     older than it are refused at ingest, rather than acknowledged and never seen
 *   locationDecimals  locations are rounded to this many decimal places before they are stored
 *                     (2 ≈ 1.1 km, 1 ≈ 11 km): the precise point never reaches the disk
 *   minGeoCount       QueryGeo (and geo exports) answer no bin with fewer events, whatever the request
 */
import type {
  CreateExportLinkRequest,
  ExportCsvRequest,
  QueryGeoRequest,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { invalidArgument, TallyError } from "../store/errors.ts";
import type { StoredEvent } from "../store/json.ts";
import { dayStart, isValidModule } from "../store/keys.ts";
import type { Principal } from "./auth.ts";

export interface ModulePolicy {
  retentionDays?: number;
  locationDecimals?: number;
  minGeoCount?: number;
}

export type ModulePolicies = Readonly<Record<string, ModulePolicy>>;

const FIELDS = new Set(["retentionDays", "locationDecimals", "minGeoCount"]);

/** Throws a start-up error naming the first bad setting. */
export function checkPolicies(modules: unknown, where: string): ModulePolicies {
  if (modules === undefined) return {};
  if (typeof modules !== "object" || modules === null || Array.isArray(modules))
    throw new Error(`[tally] config ${where}: "modules" must be an object of module names`);
  for (const [module, policy] of Object.entries(modules as Record<string, unknown>)) {
    const at = `[tally] config ${where}: modules.${module}`;
    if (!isValidModule(module)) throw new Error(`${at}: not a module name (^[a-z][a-z0-9-]{0,62}$)`);
    if (typeof policy !== "object" || policy === null) throw new Error(`${at}: must be an object`);
    for (const [name, value] of Object.entries(policy)) {
      if (!FIELDS.has(name)) throw new Error(`${at}: unknown setting "${name}"`);
      const max = name === "locationDecimals" ? 10 : Number.MAX_SAFE_INTEGER;
      const min = name === "retentionDays" ? 1 : 0;
      if (!Number.isInteger(value) || (value as number) < min || (value as number) > max)
        throw new Error(`${at}.${name}: must be a whole number from ${min} to ${max}`);
    }
  }
  return modules as ModulePolicies;
}

/**
 * Applies a module's ingest rules to validated events, in place: refuses events older than its retention
 * (naming the first), rounds locations.
 */
export function applyIngestPolicy(
  events: StoredEvent[],
  policy: ModulePolicy | undefined,
  retainedFrom: string,
): void {
  if (!policy) return;
  if (retainedFrom) {
    const cutoff = dayStart(retainedFrom);
    const i = events.findIndex((e) => e.time < cutoff);
    if (i >= 0)
      throw invalidArgument(
        `events[${i}].time`,
        `older than this module's retention of ${policy.retentionDays} days (kept from ${new Date(cutoff).toISOString()})`,
      );
  }
  const decimals = policy.locationDecimals;
  if (decimals === undefined) return;
  const scale = 10 ** decimals;
  for (const e of events) {
    if (Number.isNaN(e.lat)) continue;
    e.lat = roundTo(e.lat, scale);
    e.lon = roundTo(e.lon, scale);
  }
}

/**
 * `v` rounded to a multiple of 1 / `scale`, ties away from zero: the same on both sides of the equator and
 * the prime meridian (Math.round alone takes ties up, so -1.5 would become -1 while 1.5 becomes 2). + 0
 * turns -0 into 0, so a rounded point near the equator is stored as it would be written.
 */
function roundTo(v: number, scale: number): number {
  return (Math.sign(v) * Math.round(Math.abs(v) * scale)) / scale + 0;
}

/** The QueryGeo floor for this caller and module: the larger of the key's and the module's. */
export function geoFloor(principal: Principal, policy: ModulePolicy | undefined): number {
  return Math.max(principal.minGeoCount, policy?.minGeoCount ?? 0);
}

/** Raises a geo request's `minCount` to the floor, in place (before validation, so it is what is signed too). */
export function enforceGeoFloor(req: QueryGeoRequest, floor: number): void {
  if (req.minCount < floor) req.minCount = floor;
}

/**
 * The floor for an export request, applied in place: a geo export's `minCount` is raised to it, and an
 * events export — exact points, a single event being a cell of one — is refused to a caller under a floor.
 */
export function enforceExportFloor(
  req: ExportCsvRequest | CreateExportLinkRequest,
  principal: Principal,
  modules: ModulePolicies | undefined,
): void {
  const module = req.query.value?.module ?? "";
  const floor = geoFloor(principal, modules?.[module]);
  if (req.query.case === "geo") enforceGeoFloor(req.query.value, floor);
  if (req.query.case === "events" && floor > 0)
    throw new TallyError(
      "permission_denied",
      `events exports hold exact locations, and this API key reads ${module} under a geo floor of ${floor}: export series or geo bins, or use ListEvents`,
    );
}
