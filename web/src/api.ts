/**
 * The dashboard's API client: connect-web over the gRPC-web protocol (binary), to the server that served
 * the page. An API key, when the server needs one, is kept in this browser only (never in the URL, which
 * is meant to be shared).
 */
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import {
  type CreateExportLinkRequest,
  type QuerySeriesRequest,
  type SeriesRow,
  TelemetryService,
} from "../../proto/gen/telemetry/v1/telemetry_pb.ts";

const KEY = "tally.apiKey";

export type Api = Client<typeof TelemetryService>;

export function createApi(origin: string = location.origin): Api {
  return createClient(
    TelemetryService,
    createGrpcWebTransport({
      baseUrl: origin,
      useBinaryFormat: true,
      interceptors: [
        (next) => (req) => {
          const key = localStorage.getItem(KEY);
          if (key) req.header.set("authorization", `Bearer ${key}`);
          return next(req);
        },
      ],
    }),
  );
}

export function setApiKey(key: string): void {
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

/** Every row of a series query, following its page tokens. */
export async function allSeriesRows(api: Api, request: QuerySeriesRequest, signal: AbortSignal) {
  const rows: SeriesRow[] = [];
  let pageToken = "";
  do {
    const page = await api.querySeries({ ...request, pageToken }, { signal });
    rows.push(...page.rows);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return rows;
}

/** Starts the browser download of a query's CSV through a signed export link. */
export async function downloadCsv(api: Api, query: CreateExportLinkRequest["query"]): Promise<void> {
  const { url } = await api.createExportLink({ query });
  const link = document.createElement("a");
  link.href = url;
  link.download = "";
  document.body.append(link);
  link.click();
  link.remove();
}

export function isCancel(error: unknown): boolean {
  return ConnectError.from(error).code === Code.Canceled;
}

export function needsKey(error: unknown): boolean {
  const code = ConnectError.from(error).code;
  return code === Code.Unauthenticated || code === Code.PermissionDenied;
}

/** A message for the panel: the server's own words (they name the field at fault). */
export function errorText(error: unknown): string {
  const e = ConnectError.from(error);
  return `${Code[e.code] ?? "error"}: ${e.rawMessage}`;
}
