/**
 * ExportCsv and CreateExportLink requests: exactly one query, validated as its own RPC would validate it
 * (paging fields ignored: an export holds every row), plus the CSV options.
 */
import type { CreateExportLinkRequest, ExportCsvRequest } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
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
  return { what, bom: req.bom, filename: `${module}-${query.case}-${fileTime(start)}-${fileTime(end)}.csv` };
}

/** A date when the instant is a UTC midnight (2026-03-01), else a compact UTC time (20260301T093000Z). */
function fileTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  if (iso.endsWith("T00:00:00.000Z")) return iso.slice(0, 10);
  return `${iso.slice(0, 19).replace(/[-:]/g, "")}Z`;
}
