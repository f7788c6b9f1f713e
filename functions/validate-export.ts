/**
 * ExportCsv and CreateExportLink requests: exactly one query, validated as its own RPC would validate it
 * (paging fields ignored: an export holds every row), plus the CSV options.
 */
import type { CreateExportLinkRequest, ExportCsvRequest } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { isoInZone } from "../store/csv.ts";
import { invalidArgument } from "../store/errors.ts";
import type { ExportSpec } from "../store/export.ts";
import type { Limits } from "./limits.ts";
import { validateField, validateGeoQuery, validateList, validateSeries } from "./validate-query.ts";

export interface ValidExport {
  what: ExportSpec;
  bom: boolean;
  /** `<module>-<kind>-<from>-<to>.csv` */
  filename: string;
}

/** Errors name fields under the chosen query (`series.range.end`) or at top level (`columns`). */
export function validateExport(
  req: ExportCsvRequest | CreateExportLinkRequest,
  tenant: string,
  asOf: number,
  limits: Limits,
): ValidExport {
  const { query } = req;
  if (query.case === undefined) throw invalidArgument("query", "one of series, geo or events is required");
  if (req.columns.length > 0 && query.case !== "events") {
    throw invalidArgument("columns", "only events exports take columns");
  }
  const columns = req.columns.map((c, i) => validateField(c, `columns[${i}]`));
  let what: ExportSpec;
  try {
    what =
      query.case === "series"
        ? { kind: "series", spec: validateSeries(query.value, tenant, asOf, limits) }
        : query.case === "geo"
          ? { kind: "geo", spec: validateGeoQuery(query.value, tenant, asOf, limits) }
          : { kind: "events", spec: validateList(query.value, tenant, asOf, limits), columns };
  } catch (error) {
    // Prefix the query's name, so `range.end` reads `series.range.end`.
    if (error instanceof Error && "code" in error && error.code === "invalid_argument") {
      error.message = `${query.case}.${error.message}`;
    }
    throw error;
  }
  const { module, start, end } = what.spec;
  // A series is read in its time zone: a Berlin March is named by its Berlin dates, not 2026-02-28T23:00Z's.
  const zone = what.kind === "series" ? what.spec.timeZone : "UTC";
  const name = `${module}-${query.case}-${fileTime(start, zone)}-${fileTime(end, zone)}.csv`;
  return { what, bom: req.bom, filename: name };
}

/**
 * A date when the instant is a midnight in `zone` (2026-03-01), else a compact UTC time
 * (20260301T093000Z), which no one can read as a date of another zone.
 */
function fileTime(ms: number, zone: string): string {
  const local = isoInZone(ms, zone);
  if (/^\d{4}-\d\d-\d\dT00:00:00[+-]/.test(local)) return local.slice(0, 10);
  return `${new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, "")}Z`;
}
