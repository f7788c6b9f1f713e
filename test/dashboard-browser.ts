/**
 * What the dashboard's browser tests share (test/dashboard.test.ts, test/dashboard-audit.test.ts): how
 * chromium is started, how a page's view is waited for and read, and the API's own answers and CSV files
 * to compare it with.
 */
import { readFileSync } from "node:fs";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { parse } from "csv-parse/sync";
import type { Page } from "playwright-core";
import {
  type CreateExportLinkRequest,
  QuerySeriesRequestSchema,
  type TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import type { TallyDebug } from "../web/src/debug.ts";

/** Debian's chromium, headless, with nothing that would reach the network on its own. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export async function debugOf(page: Page): Promise<TallyDebug> {
  return page.evaluate(() => window.__tally);
}

/** Waits until a view newer than `after` has finished loading every panel. */
export async function settled(page: Page, after: number): Promise<TallyDebug> {
  await page.waitForFunction(
    (v) =>
      window.__tally !== undefined &&
      window.__tally.settled > v &&
      window.__tally.settled === window.__tally.view,
    after,
    { timeout: 30_000 },
  );
  return debugOf(page);
}

/** The API's own answer to a series request the page made: [bucketStart ms, group, value] rows. */
export async function seriesRows(
  api: Client<typeof TelemetryService>,
  request: JsonValue,
): Promise<[number, string, number][]> {
  const rows: [number, string, number][] = [];
  const req = fromJson(QuerySeriesRequestSchema, request);
  let pageToken = "";
  do {
    const page = await api.querySeries({ ...req, pageToken });
    for (const r of page.rows) {
      rows.push([
        Number(r.bucketStart!.seconds) * 1000 + r.bucketStart!.nanos / 1e6,
        r.group[0] ?? "",
        r.value,
      ]);
    }
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return rows;
}

/** ExportCsv's file for a query, parsed. */
export async function exported(
  api: Client<typeof TelemetryService>,
  query: CreateExportLinkRequest["query"],
): Promise<string[][]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of api.exportCsv({ query })) chunks.push(chunk.data);
  return parse(Buffer.concat(chunks).toString("utf8"));
}

/** The file a panel's CSV button downloads, parsed. */
export async function downloadedCsv(page: Page, panel: string): Promise<string[][]> {
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click(`#panel-${panel} button.csv`),
  ]);
  return parse(readFileSync((await download.path())!, "utf8"));
}
