/**
 * The dashboard in a real browser: Debian's headless Chromium (driven by playwright-core) against a real
 * server process holding the reference data set. The page's numbers are compared with the API's own
 * answers to the very requests the page made (the page lists them in `window.__tally`), its CSV downloads
 * with ExportCsv, and its calls must all be gRPC-web. Screenshots of every view go to
 * test-output/dashboard/.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { fromJson } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CreateExportLinkRequest,
  ListEventsRequestSchema,
  QueryGeoRequestSchema,
  QuerySeriesRequestSchema,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { CHROMIUM_ARGS, debugOf, downloadedCsv, exported, seriesRows, settled } from "./dashboard-browser.ts";
import { DISCO, generateReferenceData, toEventInit } from "./reference-data.ts";
import { ROOT, type ServerProcess, startServer } from "./server-process.ts";

const SHOTS = join(ROOT, "test-output/dashboard");
/** The reference data's whole span, in Berlin time: daily buckets across both 2026 DST changes. */
const VIEW = `?module=${DISCO}&from=2026-02-15&to=2026-11-14&tz=Europe/Berlin`;

let server: ServerProcess;
let browser: Browser;
let dataDir: string;
let api: Client<typeof TelemetryService>;

beforeAll(async () => {
  // The page under test is the production build, exactly what `npm start` serves (test/global-setup.ts
  // builds it before any test file runs).
  dataDir = mkdtempSync(join(tmpdir(), "tally-dashboard-"));
  server = await startServer({ DATA_DIR: dataDir });
  api = createClient(TelemetryService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
  for (const batch of generateReferenceData().batches) {
    await api.recordEvents({ module: batch.module, events: batch.events.map(toEventInit) });
  }
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** Every API call: path and request content type. */
  calls: { path: string; contentType: string }[];
}

async function open(search: string, viewport = { width: 1280, height: 900 }): Promise<Opened> {
  const context = await browser.newContext({
    viewport,
    acceptDownloads: true,
    isMobile: viewport.width < 600,
  });
  const page = await context.newPage();
  const errors: string[] = [];
  const calls: Opened["calls"] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.stack ?? String(e)));
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/telemetry.v1.TelemetryService/")) {
      calls.push({ path, contentType: r.headers()["content-type"] ?? "" });
    }
  });
  await page.goto(`${server.url}/${search}`);
  await settled(page, 0);
  return { page, errors, calls };
}

async function shot(page: Page, name: string, selector?: string): Promise<void> {
  const path = join(SHOTS, `${name}.png`);
  if (selector) await page.locator(selector).screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
}

function sum(rows: [number, string, number][]): number {
  return rows.reduce((total, r) => total + r[2], 0);
}

describe("the dashboard in headless Chromium", () => {
  it("loads with every panel ready and no console errors, every call over gRPC-web", async () => {
    const { page, errors, calls } = await open(VIEW);
    const states = await page.$$eval(".panel", (panels) =>
      panels.map((p) => `${p.id}:${(p as HTMLElement).dataset.state}`),
    );
    expect(states).toEqual([
      "panel-types:ready",
      "panel-users:ready",
      "panel-breakdown:ready",
      "panel-map:ready",
      "panel-events:ready",
    ]);
    expect(errors).toEqual([]);
    expect(new Set(calls.map((c) => c.path))).toEqual(
      new Set([
        "/telemetry.v1.TelemetryService/QuerySeries",
        "/telemetry.v1.TelemetryService/QueryGeo",
        "/telemetry.v1.TelemetryService/ListEvents",
      ]),
    );
    expect(new Set(calls.map((c) => c.contentType))).toEqual(new Set(["application/grpc-web+proto"]));
    await shot(page, "overview");
    for (const panel of ["types", "users", "breakdown", "map", "events"]) {
      await shot(page, `panel-${panel}`, `#panel-${panel}`);
    }
    await page.context().close();
  });

  it("draws the time charts from exactly what QuerySeries answers", async () => {
    const { page } = await open(VIEW);
    const debug = await debugOf(page);
    const types = debug.panels.types!;
    // The view's range is the URL's, in its time zone: Berlin midnights, daily buckets.
    expect(types.request).toMatchObject({
      module: DISCO,
      range: { start: "2026-02-14T23:00:00Z", end: "2026-11-14T23:00:00Z" },
      interval: "INTERVAL_DAY",
      timeZone: "Europe/Berlin",
      groupBy: ["type"],
    });
    const answer = await seriesRows(api, types.request);
    expect(types.data).toEqual(answer);
    expect(types.total).toBe(sum(answer));
    expect(sum(answer)).toBeGreaterThan(1000);
    expect(await page.textContent("#panel-types .total")).toBe(
      `${sum(answer).toLocaleString("en-US")} events`,
    );
    // One stacked bar per bucket and type that has events (the SVG renderer draws each as a path).
    const bars = await page.$$eval("#panel-types svg path[fill]", (paths) => paths.length);
    expect(bars).toBeGreaterThanOrEqual(answer.filter((r) => r[2] > 0).length);

    const users = debug.panels.users!;
    expect(users.request).toMatchObject({
      aggregation: { function: "AGGREGATION_FUNCTION_COUNT_UNIQUE", field: "userId" },
    });
    expect(users.data).toEqual(await seriesRows(api, users.request));
    const breakdown = debug.panels.breakdown!;
    expect(breakdown.request).toMatchObject({ interval: "INTERVAL_TOTAL", groupBy: ["supplies.name"] });
    expect(breakdown.data).toEqual(await seriesRows(api, breakdown.request));
    await page.context().close();
  });

  it("offers the filter values present in the data, and a filter updates the charts and the URL", async () => {
    const { page, errors } = await open(VIEW);
    const before = await debugOf(page);
    expect(before.options.org).toContain("Acme, Inc.");
    expect(before.options.org).toContain("Line one\nLine two");
    expect(before.options.supply).toContain("Zahnärztliche Hilfe");
    expect(before.options.type).toEqual(["enrolled", "unenrolled"]);

    await page.click("details[data-filter=org] summary");
    await shot(page, "filter-open");
    await page.check('details[data-filter=org] input[value="Acme, Inc."]');
    let after = await settled(page, before.view);
    await page.click("details[data-filter=supply] summary");
    await page.check('details[data-filter=supply] input[value="Zahnärztliche Hilfe"]');
    after = await settled(page, after.view);

    const url = new URL(page.url());
    expect(url.searchParams.getAll("org")).toEqual(["Acme, Inc."]);
    expect(url.searchParams.getAll("supply")).toEqual(["Zahnärztliche Hilfe"]);
    const filters = [
      { field: "org", op: "OPERATOR_EQ", values: ["Acme, Inc."] },
      { field: "supplies.name", op: "OPERATOR_EQ", values: ["Zahnärztliche Hilfe"] },
    ];
    for (const panel of ["types", "users", "breakdown", "map", "events"]) {
      expect(after.panels[panel]!.request, panel).toMatchObject({ filters });
    }
    const answer = await seriesRows(api, after.panels.types!.request);
    expect(after.panels.types!.data).toEqual(answer);
    expect(sum(answer)).toBeGreaterThan(0);
    expect(sum(answer)).toBeLessThan(before.panels.types!.total!);
    expect(after.panels.users!.data).toEqual(await seriesRows(api, after.panels.users!.request));
    expect(after.panels.breakdown!.data).toEqual(await seriesRows(api, after.panels.breakdown!.request));

    // The breakdown field is part of the view too.
    await page.selectOption("select[name=by]", "org");
    after = await settled(page, after.view);
    expect(new URL(page.url()).searchParams.get("by")).toBe("org");
    expect(after.panels.breakdown!.request).toMatchObject({ groupBy: ["org"] });
    expect(after.panels.breakdown!.data.map((r) => (r as unknown[])[1])).toEqual(["Acme, Inc."]);
    await shot(page, "filtered");

    // A reload (or the link, shared) shows the same view.
    await page.reload();
    const reloaded = await settled(page, 0);
    expect(reloaded.panels.types!.request).toEqual(after.panels.types!.request);
    expect(reloaded.panels.types!.data).toEqual(answer);
    expect(await page.isChecked('details[data-filter=org] input[value="Acme, Inc."]')).toBe(true);
    expect(await page.inputValue("select[name=by]")).toBe("org");
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("draws a heat circle per QueryGeo bin, and filters by a box drawn and a radius clicked on the map", async () => {
    const { page, errors } = await open(VIEW);
    let debug = await debugOf(page);
    const map = debug.panels.map!;
    expect(map.request).toMatchObject({ module: DISCO, cellDegrees: 4 });
    const bins = await api.queryGeo(fromJson(QueryGeoRequestSchema, map.request));
    expect(map.data).toEqual(bins.bins.map((b) => [b.lat, b.lon, b.count]));
    expect(bins.bins.length).toBeGreaterThan(3);
    // The SVG renderer draws each heat circle as a unit-circle path, scaled by count and coloured by it.
    const circles = await page.$$eval("#panel-map svg path[d^='M1 0A1 1 0 1 1'][fill^='rgb(']", (paths) =>
      paths.map((p) => [p.getAttribute("transform"), p.getAttribute("fill")]),
    );
    expect(circles).toHaveLength(bins.bins.length);
    expect(new Set(circles.map(([transform]) => transform!.split(",")[0])).size).toBeGreaterThan(1);
    expect(new Set(circles.map(([, fill]) => fill)).size).toBeGreaterThan(1);

    // A box dragged over Europe.
    await page.locator("#panel-map .chart").scrollIntoViewIfNeeded();
    const chart = (await page.locator("#panel-map .chart").boundingBox())!;
    await page.click("#panel-map button[name=box]");
    await page.mouse.move(chart.x + chart.width * 0.42, chart.y + chart.height * 0.12);
    await page.mouse.down();
    await page.mouse.move(chart.x + chart.width * 0.58, chart.y + chart.height * 0.4, { steps: 8 });
    await page.mouse.up();
    debug = await settled(page, debug.view);
    const box = new URL(page.url()).searchParams.get("box")!.split(",").map(Number) as [
      number,
      number,
      number,
      number,
    ];
    const [south, west, north, east] = box;
    expect(south).toBeLessThan(north);
    expect(west).toBeLessThan(east);
    expect(debug.panels.types!.request).toMatchObject({ geo: { box: { south, west, north, east } } });
    const inBox = debug.panels.map!.data as [number, number, number][];
    expect(inBox.length).toBeGreaterThan(0);
    for (const [lat, lon] of inBox) {
      expect(lat).toBeGreaterThanOrEqual(south);
      expect(lat).toBeLessThanOrEqual(north);
      expect(lon).toBeGreaterThanOrEqual(west);
      expect(lon).toBeLessThanOrEqual(east);
    }
    expect(debug.panels.types!.data).toEqual(await seriesRows(api, debug.panels.types!.request));
    await shot(page, "map-box", "#panel-map");

    // A 500 km radius around a clicked point replaces the box: the point is the biggest circle's centre.
    const biggest = await page.$$eval("#panel-map svg path[d^='M1 0A1 1 0 1 1'][fill^='rgb(']", (paths) => {
      const svg = paths[0]!.closest("svg")!.getBoundingClientRect();
      const placed = paths.map((p) => {
        const [scale, , , , x, y] = p.getAttribute("transform")!.slice(7, -1).split(",").map(Number);
        return { scale: scale!, x: svg.x + x!, y: svg.y + y! };
      });
      return placed.sort((a, b) => b.scale - a.scale)[0]!;
    });
    await page.fill("#panel-map input[name=radius]", "500");
    await page.click("#panel-map button[name=near]");
    await page.mouse.click(biggest.x, biggest.y);
    debug = await settled(page, debug.view);
    const near = new URL(page.url()).searchParams.get("near")!.split(",").map(Number);
    expect(near[2]).toBe(500);
    expect(new URL(page.url()).searchParams.get("box")).toBeNull();
    expect(debug.panels.map!.request).toMatchObject({
      geo: { circle: { center: { lat: near[0], lon: near[1] }, radiusMeters: 500_000 } },
    });
    expect(debug.panels.map!.total).toBeGreaterThan(0);
    expect(debug.panels.types!.data).toEqual(await seriesRows(api, debug.panels.types!.request));
    await shot(page, "map-radius", "#panel-map");

    // Zooming in makes the cells finer: the map asks again with a smaller cell size.
    await page.mouse.move(biggest.x, biggest.y);
    for (let i = 0; i < 4; i++) await page.mouse.wheel(0, -400);
    await page.waitForFunction(
      () => (window.__tally.panels.map!.request as { cellDegrees: number }).cellDegrees < 4,
    );
    await page.waitForSelector("#panel-map[data-state=ready]");
    const zoomed = (await debugOf(page)).panels.map!;
    const cell = (zoomed.request as { cellDegrees: number }).cellDegrees;
    const finer = await api.queryGeo(fromJson(QueryGeoRequestSchema, zoomed.request));
    expect(zoomed.data).toEqual(finer.bins.map((b) => [b.lat, b.lon, b.count]));
    expect(await page.textContent("#panel-map .total")).toContain(`${cell}° cells`);
    await shot(page, "map-zoomed", "#panel-map");
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("downloads, from each panel's CSV button, exactly the rows ExportCsv gives for what the panel shows", async () => {
    const { page, errors, calls } = await open(`${VIEW}&org=org-1`);
    const debug = await debugOf(page);
    const queries: Record<string, CreateExportLinkRequest["query"]> = {
      types: { case: "series", value: fromJson(QuerySeriesRequestSchema, debug.panels.types!.request) },
      users: { case: "series", value: fromJson(QuerySeriesRequestSchema, debug.panels.users!.request) },
      breakdown: {
        case: "series",
        value: fromJson(QuerySeriesRequestSchema, debug.panels.breakdown!.request),
      },
      map: { case: "geo", value: fromJson(QueryGeoRequestSchema, debug.panels.map!.request) },
      events: { case: "events", value: fromJson(ListEventsRequestSchema, debug.panels.events!.request) },
    };
    for (const [panel, query] of Object.entries(queries)) {
      const downloaded = await downloadedCsv(page, panel);
      expect(downloaded, panel).toEqual(await exported(api, query));
    }
    // The time chart's file holds its rows: a header, then a row per bucket and type.
    const types = await downloadedCsv(page, "types");
    expect(types.length).toBe(debug.panels.types!.data.length + 1);
    // Every event of the query, not only the page on screen.
    const events = await downloadedCsv(page, "events");
    expect(events.length - 1).toBe(debug.panels.types!.total);
    expect(events.length - 1).toBeGreaterThan(debug.panels.events!.data.length);
    expect(calls.filter((c) => c.path.endsWith("/CreateExportLink")).length).toBe(7);
    expect(new Set(calls.map((c) => c.contentType))).toEqual(new Set(["application/grpc-web+proto"]));
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("pages through the raw events with ListEvents page tokens", async () => {
    const { page } = await open(VIEW);
    const first = await debugOf(page);
    const firstIds = first.panels.events!.data;
    expect(firstIds).toHaveLength(25);
    await page.click("#panel-events button[name=older]");
    await page.waitForFunction((ids) => window.__tally.panels.events!.data[0] !== ids[0], firstIds);
    const second = (await debugOf(page)).panels.events!;
    const answer = await api.listEvents(fromJson(ListEventsRequestSchema, second.request));
    expect(second.data).toEqual(answer.events.map((e) => e.id));
    const all = await api.listEvents({
      ...fromJson(ListEventsRequestSchema, first.panels.events!.request),
      pageSize: 50,
    });
    expect([...firstIds, ...second.data]).toEqual(all.events.map((e) => e.id));
    expect(await page.textContent("#panel-events .page")).toBe("page 2");
    await page.context().close();
  });

  it("shows empty, error and loading states", async () => {
    const empty = await open("?module=nothing-here&range=7d");
    expect(await empty.page.getAttribute("#panel-types", "data-state")).toBe("empty");
    expect(await empty.page.getAttribute("#panel-map", "data-state")).toBe("empty");
    expect(await empty.page.getAttribute("#panel-events", "data-state")).toBe("empty");
    expect(await empty.page.textContent("#panel-types .status")).toContain("No events match");
    await shot(empty.page, "empty");
    await empty.page.context().close();

    // Hourly buckets over 40 years are more than the server allows: the time charts say why, the rest works.
    const failing = await open(`?module=${DISCO}&from=1990-01-01&to=2026-11-14&interval=hour`);
    expect(await failing.page.getAttribute("#panel-types", "data-state")).toBe("error");
    expect(await failing.page.textContent("#panel-types .status")).toMatch(/^InvalidArgument: .*bucket/i);
    expect(await failing.page.getAttribute("#panel-breakdown", "data-state")).toBe("ready");
    await shot(failing.page, "error");
    await failing.page.context().close();

    // Held calls: the panels say they are loading.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route("**/telemetry.v1.TelemetryService/**", async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${server.url}/${VIEW}`);
    await page.waitForSelector("#panel-types[data-state=loading]");
    expect(await page.textContent("#panel-types .status")).toBe("Loading…");
    await shot(page, "loading");
    release();
    await settled(page, 0);
    await context.close();
  });

  it("shades the buckets not over yet as counts so far, and only those", async () => {
    const soFar = (page: Page, panel: string) =>
      page.$$eval(
        `#panel-${panel} svg text`,
        (texts) => texts.filter((t) => t.textContent?.endsWith(" (so far)")).length,
      );
    // The last 7 days run to the end of today: today's bucket is under way.
    const now = Date.now();
    await api.recordEvents({
      module: "so-far",
      events: [2, 1, 0].map((days) => ({ type: "joined", time: timestampFromMs(now - days * 86_400_000) })),
    });
    const running = await open("?module=so-far&range=7d&tz=UTC");
    expect(await soFar(running.page, "types")).toBe(1);
    expect(await soFar(running.page, "users")).toBe(1);
    await shot(running.page, "so-far", "#panel-types");
    await running.page.context().close();
    // A range that ended has none.
    const past = await open(VIEW);
    expect(await soFar(past.page, "types")).toBe(0);
    expect(await soFar(past.page, "users")).toBe(0);
    await past.page.context().close();
  });

  it("names what a damaged link asks for that it cannot show, and drops it from the address", async () => {
    const { page, errors } = await open(`?module=${DISCO}&range=bogus&interval=fortnight&tz=Not/AZone`);
    const notice = page.locator("#link-notice");
    expect(await notice.isVisible()).toBe(true);
    expect(await notice.textContent()).toBe(
      "Left out of this link, not understood: range=bogus, interval=fortnight, tz=Not/AZone. Showing the defaults instead.",
    );
    // The address is now the view on screen, so that a link copied from it shows the same.
    expect(new URL(page.url()).search).toBe(""); // mod-disco is the default module
    expect(errors).toEqual([]);
    // The reader's next change is a view of their own: the notice goes.
    const before = await debugOf(page);
    await page.selectOption("select[name=range]", "7d");
    await settled(page, before.view);
    expect(await notice.isVisible()).toBe(false);
    await page.context().close();
  });

  it("is usable on a phone-sized screen", async () => {
    const { page, errors } = await open(VIEW, { width: 390, height: 844 });
    // One column, nothing wider than the screen.
    const widths = await page.$$eval(".panel", (panels) =>
      panels.map((p) => p.getBoundingClientRect().width),
    );
    for (const width of widths) expect(width).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, "phone");
    await page.click("details[data-filter=type] summary");
    await page.check('details[data-filter=type] input[value="unenrolled"]');
    const after = await settled(page, 1);
    expect(after.panels.types!.request).toMatchObject({ types: ["unenrolled"] });
    expect(after.panels.types!.data).toEqual(await seriesRows(api, after.panels.types!.request));
    await shot(page, "phone-filtered");
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("is served with caching headers, and its JavaScript is at most 600 KB gzipped", async () => {
    const index = await fetch(`${server.url}/`);
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const html = await index.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${server.url}${script}`, { headers: { "accept-encoding": "gzip" } });
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const again = await fetch(`${server.url}${script}`, {
      headers: { "if-none-match": js.headers.get("etag")! },
    });
    expect(again.status).toBe(304);

    const dist = join(ROOT, "web/dist/assets");
    const scripts = readdirSync(dist).filter((f) => f.endsWith(".js"));
    const gzipped = scripts.reduce(
      (total, f) => total + gzipSync(readFileSync(join(dist, f)), { level: 9 }).length,
      0,
    );
    expect(gzipped).toBeGreaterThan(50_000);
    expect(gzipped).toBeLessThanOrEqual(600 * 1024);
  });
});
