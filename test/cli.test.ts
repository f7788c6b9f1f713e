/**
 * The `tally` CLI as users run it — a subprocess of cli/bin/tally.mjs — against a real server. Its JSON output
 * must be the RPC's answer: every query is also sent directly with a Connect client and the two compared.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromJson, type JsonObject, type JsonValue, toJson } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBox, parseFilter, parseNear } from "../cli/filters.ts";
import { parseTime } from "../cli/times.ts";
import {
  type GeoBin,
  ListEventsRequestSchema,
  ListEventsResponseSchema,
  QueryGeoRequestSchema,
  QueryGeoResponseSchema,
  QuerySeriesRequestSchema,
  QuerySeriesResponseSchema,
  type SeriesRow,
  type Event as TallyEvent,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { generateEvents } from "../scripts/bench-data.ts";
import { ROOT, type ServerProcess, startServer } from "./server-process.ts";

const MODULE = "cli-test";
const T0 = Date.UTC(2026, 2, 1);
const T1 = Date.UTC(2026, 3, 1);
const RANGE_FLAGS = ["--from", "2026-03-01T00:00:00Z", "--to", "2026-04-01T00:00:00Z"];
const RANGE = { start: "2026-03-01T00:00:00Z", end: "2026-04-01T00:00:00Z" };
const JSON_OPTIONS = { alwaysEmitImplicit: true } as const;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tally args…` from the repository root, with `input` on stdin and no TALLY_* from the outside. */
function tally(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const env = { ...process.env, ...options.env };
  if (!options.env?.TALLY_TOKEN) delete env.TALLY_TOKEN;
  if (!options.env?.TALLY_SERVER) delete env.TALLY_SERVER;
  const child = spawn(process.execPath, ["cli/bin/tally.mjs", ...args], { cwd: ROOT, env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(options.input ?? "");
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const dirs: string[] = [];
const servers: ServerProcess[] = [];
let server: ServerProcess;
let url: string;
let eventsFile: string;

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tally-cli-"));
  dirs.push(dir);
  return dir;
}

/** `tally <command> --server <test server> args…` */
const cli = (command: string, args: string[], options?: { input?: string; env?: Record<string, string> }) =>
  tally([command, "--server", url, ...args], options);

function client() {
  return createClient(TelemetryService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
}

/** The whole answer of a query sent directly, every page concatenated, in proto3 JSON. */
async function directSeries(request: JsonObject): Promise<JsonValue> {
  const req = fromJson(QuerySeriesRequestSchema, { module: MODULE, range: RANGE, ...request });
  const rows: SeriesRow[] = [];
  const api = client();
  do {
    const res = await api.querySeries(req);
    rows.push(...res.rows);
    req.pageToken = res.nextPageToken;
  } while (req.pageToken);
  return toJson(QuerySeriesResponseSchema, create(QuerySeriesResponseSchema, { rows }), JSON_OPTIONS);
}

async function directGeo(request: JsonObject): Promise<JsonValue> {
  const req = fromJson(QueryGeoRequestSchema, { module: MODULE, range: RANGE, ...request });
  const bins: GeoBin[] = [];
  const api = client();
  do {
    const res = await api.queryGeo(req);
    bins.push(...res.bins);
    req.pageToken = res.nextPageToken;
  } while (req.pageToken);
  return toJson(QueryGeoResponseSchema, create(QueryGeoResponseSchema, { bins }), JSON_OPTIONS);
}

async function directEvents(request: JsonObject): Promise<JsonValue> {
  const req = fromJson(ListEventsRequestSchema, { module: MODULE, range: RANGE, ...request });
  const events: TallyEvent[] = [];
  const api = client();
  do {
    const res = await api.listEvents(req);
    events.push(...res.events);
    req.pageToken = res.nextPageToken;
  } while (req.pageToken);
  return toJson(ListEventsResponseSchema, create(ListEventsResponseSchema, { events }), JSON_OPTIONS);
}

/** The single stderr line of a failed run (its tests run concurrently, hence no `expect` here). */
function errorLine(run: Run): string {
  const lines = run.stderr.trimEnd().split("\n");
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got:\n${run.stderr}`);
  return lines[0]!;
}

beforeAll(async () => {
  server = await startServer({ DATA_DIR: tempDir() });
  servers.push(server);
  url = server.url;
  // The platform's realistic events, as the NDJSON `tally record` reads: proto3 JSON Events, one a line.
  const lines = generateEvents(2000, { seed: 11, start: T0, end: T1 }).map((e) =>
    JSON.stringify({
      id: e.id,
      type: e.type,
      time: new Date(e.time).toISOString(),
      data: e.data,
      ...(Number.isNaN(e.lat) ? {} : { location: { lat: e.lat, lon: e.lon } }),
    }),
  );
  eventsFile = join(tempDir(), "events.ndjson");
  writeFileSync(eventsFile, `${lines.join("\n")}\n`);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("tally record", () => {
  it("records an NDJSON file in batches, and a second time only duplicates", async () => {
    const first = await cli("record", [eventsFile, "--module", MODULE, "--batch-size", "300"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ accepted: 2000, duplicates: 0 });

    const again = await cli("record", ["-", "--module", MODULE, "-o", "ndjson"], {
      input: readFileSync(eventsFile, "utf8"),
    });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ accepted: 0, duplicates: 2000 });

    const total = await directSeries({ interval: "INTERVAL_TOTAL" });
    expect(total).toMatchObject({ rows: [{ value: 2000 }] });
  });

  it("records a whole RecordEventsRequest with -f (file or stdin), its module or --module's", async () => {
    const events = readFileSync(eventsFile, "utf8")
      .trim()
      .split("\n")
      .slice(0, 250)
      .map((line) => JSON.parse(line) as JsonObject);
    const file = join(tempDir(), "request.json");
    writeFileSync(file, JSON.stringify({ module: "cli-file", events }));
    const first = await cli("record", ["-f", file, "--batch-size", "100"]);
    expect(first.stderr).toBe("");
    expect(JSON.parse(first.stdout)).toEqual({ accepted: 250, duplicates: 0 });
    const again = await cli("record", ["-f", "-"], { input: JSON.stringify({ module: "cli-file", events }) });
    expect(JSON.parse(again.stdout)).toEqual({ accepted: 0, duplicates: 250 });
    const elsewhere = await cli("record", ["-f", file, "--module", "cli-file-2"]);
    expect(JSON.parse(elsewhere.stdout)).toEqual({ accepted: 250, duplicates: 0 });
    expect(await directSeries({ interval: "INTERVAL_TOTAL", module: "cli-file-2" })).toMatchObject({
      rows: [{ value: 250 }],
    });
    const both = await cli("record", [eventsFile, "-f", file]);
    expect(both.code).toBe(2);
    expect(errorLine(both)).toBe("tally: give either an NDJSON file or -f with a request, not both");
    writeFileSync(file, JSON.stringify({ events: [{ type: "a", colour: 1 }] }));
    const bad = await cli("record", ["-f", file, "--module", "cli-bad"]);
    expect(bad.code).toBe(2);
    expect(errorLine(bad)).toMatch(/^tally: .*request\.json: .*"colour" is unknown/);
    writeFileSync(file, JSON.stringify({ events: [{ type: "a", time: "2026-11-30T24:00:00Z" }] }));
    const hour24 = await cli("record", ["-f", file, "--module", "cli-bad"]);
    expect(hour24.code).toBe(2);
    expect(errorLine(hour24)).toMatch(
      /request\.json: events\[0\]\.time: invalid RFC 3339 string .*: hours run/,
    );
    const nameless = await cli("record", ["-f", "-"], { input: JSON.stringify({ events: [] }) });
    expect(errorLine(nameless)).toBe('tally: --module is required (or "module" in the -f request)');
  });

  it("names the line of a malformed event, and records nothing of the input", async () => {
    const input = '{"id":"ok-1","type":"a","time":"2026-03-02T00:00:00Z"}\n\n{"type":"b","colour":1}\n';
    const bad = await cli("record", ["--module", "cli-bad"], { input });
    expect(bad.code).toBe(1);
    expect(errorLine(bad)).toMatch(/^tally: line 3: .*"colour" is unknown/);
    const notJson = await cli("record", ["--module", "cli-bad"], { input: "{}\nnope\n" });
    expect(errorLine(notJson)).toMatch(/^tally: line 2: not JSON/);
    const feb30 = await cli("record", ["--module", "cli-bad"], {
      input:
        '{"type":"a"}\n{"type":"b","time":"2026-02-30T10:00:00Z","data":{"note":"2026-02-31T00:00:00Z"}}\n',
    });
    expect(feb30.code).toBe(1);
    expect(errorLine(feb30)).toBe(
      'tally: line 2: time: invalid RFC 3339 string "2026-02-30T10:00:00Z": February 2026 has 28 days',
    );
    const refused = await cli("record", ["--module", "cli-bad"], {
      input: '{"type":"a"}\n{"type":"b","location":{"lat":91,"lon":0}}\n',
    });
    expect(refused.code).toBe(1);
    expect(errorLine(refused)).toBe(
      "tally: invalid argument: line 2: events[1].location.lat: 91 is outside -90..90",
    );
  });
});

describe.concurrent("queries print the RPC's answer", () => {
  const series: [string[], JsonObject][] = [
    [
      ["--interval", "day", "--tz", "Europe/Berlin", "--group-by", "type", "--page-size", "40", "--all"],
      { interval: "INTERVAL_DAY", timeZone: "Europe/Berlin", groupBy: ["type"] },
    ],
    [
      [
        "--interval",
        "week",
        "--week-start",
        "sunday",
        "--filter",
        "supplies.name=Childcare",
        "--unique",
        "userId",
      ],
      {
        interval: "INTERVAL_WEEK",
        weekStart: "WEEKDAY_SUNDAY",
        filters: [{ field: "supplies.name", op: "OPERATOR_EQ", values: ["Childcare"] }],
        aggregation: { function: "AGGREGATION_FUNCTION_COUNT_UNIQUE", field: "userId" },
      },
    ],
    [
      [
        ...["--filter", "supplies.value>=5", "--filter", "org=org-3|org-4", "--sum", "supplies.value"],
        ...["--group-by", "supplies.name", "--interval", "month", "--page-size", "5", "--all"],
      ],
      {
        interval: "INTERVAL_MONTH",
        groupBy: ["supplies.name"],
        filters: [
          { field: "supplies.value", op: "OPERATOR_GTE", values: [5] },
          { field: "org", op: "OPERATOR_EQ", values: ["org-3", "org-4"] },
        ],
        aggregation: { function: "AGGREGATION_FUNCTION_SUM", field: "supplies.value" },
      },
    ],
    [
      [
        ...[
          "--filter",
          "role~admin",
          "--filter",
          "!supplies",
          "--filter",
          "userId?",
          "--filter",
          "role!=GUEST",
        ],
        ...["--type", "user.joined", "--type", "role.changed", "--interval", "total", "--group-by", "type"],
        ...["--group-by", "role"],
      ],
      {
        interval: "INTERVAL_TOTAL",
        types: ["user.joined", "role.changed"],
        groupBy: ["type", "role"],
        filters: [
          { field: "role", op: "OPERATOR_CONTAINS", values: ["admin"] },
          { field: "supplies", op: "OPERATOR_NOT_EXISTS" },
          { field: "userId", op: "OPERATOR_EXISTS" },
          { field: "role", op: "OPERATOR_NEQ", values: ["GUEST"] },
        ],
      },
    ],
    // The request fields' own kebab-case spellings of --tz and --type.
    [
      ["--time-zone", "Asia/Kathmandu", "--types=enrolled", "--interval", "day", "--group-by", "org"],
      { interval: "INTERVAL_DAY", timeZone: "Asia/Kathmandu", types: ["enrolled"], groupBy: ["org"] },
    ],
    [
      ["--near", "-33.87,151.21,300km", "--avg", "supplies.value", "--interval", "week"],
      {
        interval: "INTERVAL_WEEK",
        geo: { circle: { center: { lat: -33.87, lon: 151.21 }, radiusMeters: 300_000 } },
        aggregation: { function: "AGGREGATION_FUNCTION_AVG", field: "supplies.value" },
      },
    ],
  ];
  it.for(series)("series %j", async ([flags, request], { expect }) => {
    const [run, expected] = await Promise.all([
      cli("series", ["--module", MODULE, ...RANGE_FLAGS, ...flags, "-o", "json"]),
      directSeries(request),
    ]);
    expect(run.stderr).toBe("");
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(expected);
    expect((expected as { rows: { value: number }[] }).rows.some((r) => r.value > 0)).toBe(true);
  });

  it("reads dates in --tz: a Berlin March is [Feb 28 23:00Z, Mar 31 22:00Z)", async ({ expect }) => {
    const flags = [
      "--from",
      "2026-03-01",
      "--to",
      "2026-04-01",
      "--tz",
      "Europe/Berlin",
      "--interval",
      "day",
    ];
    const [run, expected] = await Promise.all([
      cli("series", ["--module", MODULE, ...flags, "-o", "json"]),
      directSeries({
        range: { start: "2026-02-28T23:00:00Z", end: "2026-03-31T22:00:00Z" },
        interval: "INTERVAL_DAY",
        timeZone: "Europe/Berlin",
      }),
    ]);
    expect(JSON.parse(run.stdout)).toEqual(expected);
    expect((expected as { rows: unknown[] }).rows).toHaveLength(31);
  });

  const geo: [string[], JsonObject][] = [
    [["--cell", "2", "--min-count", "2", "--page-size", "3", "--all"], { cellDegrees: 2, minCount: 2 }],
    [["--cell-degrees", "0.25", "--min-count", "2"], { cellDegrees: 0.25, minCount: 2 }],
    [
      ["--box", "30,-20,60,40", "--cell", "0.5", "--filter", "org=org-3"],
      {
        cellDegrees: 0.5,
        geo: { box: { south: 30, west: -20, north: 60, east: 40 } },
        filters: [{ field: "org", op: "OPERATOR_EQ", values: ["org-3"] }],
      },
    ],
    [
      ["--near", "-33.87,151.21,500km"],
      { geo: { circle: { center: { lat: -33.87, lon: 151.21 }, radiusMeters: 5e5 } } },
    ],
  ];
  it.for(geo)("geo %j", async ([flags, request], { expect }) => {
    const [run, expected] = await Promise.all([
      cli("geo", ["--module", MODULE, ...RANGE_FLAGS, ...flags, "-o", "json"]),
      directGeo(request),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(expected);
    expect((expected as { bins: unknown[] }).bins.length).toBeGreaterThan(0);
  });

  const events: [string[], JsonObject][] = [
    [
      ["--filter", "org=org-3", "--order", "desc", "--page-size", "50", "--all"],
      { order: "ORDER_DESC", filters: [{ field: "org", op: "OPERATOR_EQ", values: ["org-3"] }] },
    ],
    [
      ["--box", "-45,110,-10,160", "--all"],
      { geo: { box: { south: -45, west: 110, north: -10, east: 160 } } },
    ],
    [
      ["--near", "52.52,13.405,150km", "--type", "enrolled", "--all"],
      {
        types: ["enrolled"],
        geo: { circle: { center: { lat: 52.52, lon: 13.405 }, radiusMeters: 150_000 } },
      },
    ],
    [
      ["--filter", "supplies.value<3", "--filter", "needs=Food", "--all", "--page-size", "7"],
      {
        filters: [
          { field: "supplies.value", op: "OPERATOR_LT", values: [3] },
          { field: "needs", op: "OPERATOR_EQ", values: ["Food"] },
        ],
      },
    ],
  ];
  it.for(events)("events %j", async ([flags, request], { expect }) => {
    const [run, expected] = await Promise.all([
      cli("events", ["--module", MODULE, ...RANGE_FLAGS, ...flags, "-o", "json"]),
      directEvents(request),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(expected);
    expect((expected as { events: unknown[] }).events.length).toBeGreaterThan(0);
  });

  it("-o ndjson prints one item a line, across every page", async ({ expect }) => {
    const [eventsRun, seriesRun, expected] = await Promise.all([
      cli("events", ["--module", MODULE, ...RANGE_FLAGS, "--all", "--page-size", "300", "-o", "ndjson"]),
      cli("series", ["--module", MODULE, ...RANGE_FLAGS, "--group-by", "type", "--all", "-o", "ndjson"]),
      directSeries({ groupBy: ["type"] }),
    ]);
    const lines = eventsRun.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2000);
    expect(new Set(lines.map((l) => (JSON.parse(l) as { id: string }).id)).size).toBe(2000);
    const rows = seriesRun.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as JsonValue);
    expect(rows).toEqual((expected as { rows: JsonValue[] }).rows);
  });

  it("-f - reads the request from stdin; flags replace its fields", async ({ expect }) => {
    const request = {
      module: MODULE,
      range: RANGE,
      interval: "INTERVAL_WEEK",
      groupBy: ["type"],
      time_zone: "UTC",
    };
    const [run, expected] = await Promise.all([
      cli("series", ["-f", "-", "--tz", "Australia/Sydney", "-o", "json"], {
        input: JSON.stringify(request),
      }),
      directSeries({ interval: "INTERVAL_WEEK", groupBy: ["type"], timeZone: "Australia/Sydney" }),
    ]);
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual(expected);

    const misspelt = await cli("events", ["-f", "-"], {
      input: JSON.stringify({ module: MODULE, timezone: "UTC" }),
    });
    expect(misspelt.code).toBe(2);
    expect(errorLine(misspelt)).toMatch(/^tally: stdin: .*"timezone" is unknown/);
  });

  it("pages with --page-token from the hint on stderr, pinning a relative range", async ({ expect }) => {
    const all = await directEvents({});
    const ids: string[] = [];
    // `--to now` is pinned by the hint, so that the next page asks for exactly the same query.
    let args = ["--module", MODULE, "--from", "2026-03-01T00:00:00Z", "--to", "now", "--page-size", "700"];
    for (let page = 0; ; page++) {
      const run = await cli("events", [...args, "-o", "json"]);
      expect(run.code, run.stderr).toBe(0);
      const answer = JSON.parse(run.stdout) as { events: { id: string }[]; nextPageToken: string };
      ids.push(...answer.events.map((e) => e.id));
      if (!answer.nextPageToken) {
        expect(run.stderr).toBe("");
        break;
      }
      const hint = /^tally: more results; next page: (--page-token (\S+).*)$/.exec(run.stderr.trimEnd());
      expect(hint?.[2]).toBe(answer.nextPageToken);
      if (page === 0) expect(hint?.[1]).toMatch(/ --to \d{4}-\d\d-\d\dT/);
      // The same command with the hint appended (a repeated flag's last value wins).
      args = [...args, ...hint![1]!.split(" ")];
      expect(page).toBeLessThan(3);
    }
    expect(ids).toEqual((all as { events: { id: string }[] }).events.map((e) => e.id));
  });
});

describe.concurrent("tally export", () => {
  it("writes the CSV of every event, and of a series to stdout", async ({ expect }) => {
    const out = join(tempDir(), "events.csv");
    const [run, seriesRun, filtered, filteredCount] = await Promise.all([
      cli("export", ["--events", "--module", MODULE, ...RANGE_FLAGS, "--out", out]),
      cli("export", [
        "--series",
        "--module",
        MODULE,
        ...RANGE_FLAGS,
        "--group-by",
        "type",
        "--tz",
        "Europe/Berlin",
      ]),
      cli("export", [
        "--events",
        "--module",
        MODULE,
        ...RANGE_FLAGS,
        "--filter",
        "org=org-3",
        "--columns",
        "org",
        "--columns",
        "userId",
      ]),
      directEvents({ filters: [{ field: "org", op: "OPERATOR_EQ", values: ["org-3"] }] }),
    ]);
    expect(run.stderr).toBe("");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe("");
    const rows = parse(readFileSync(out, "utf8")) as string[][];
    expect(rows[0]!.slice(0, 5)).toEqual(["id", "type", "time", "lat", "lon"]);
    expect(rows.length - 1).toBe(2000);

    const seriesRows = parse(seriesRun.stdout) as string[][];
    expect(seriesRows[0]).toEqual(["bucket_start", "type", "value"]);
    const series = (await directSeries({ groupBy: ["type"], timeZone: "Europe/Berlin" })) as {
      rows: unknown[];
    };
    expect(seriesRows.length - 1).toBe(series.rows.length);

    const filteredRows = parse(filtered.stdout) as string[][];
    expect(filteredRows[0]).toEqual(["id", "type", "time", "lat", "lon", "org", "userId"]);
    expect(filteredRows.slice(1).map((r) => r[0])).toEqual(
      (filteredCount as { events: { id: string }[] }).events.map((e) => e.id),
    );
  });

  it("needs one kind of query, and refuses paging flags", async ({ expect }) => {
    const none = await cli("export", ["--module", MODULE]);
    expect(none.code).toBe(2);
    expect(errorLine(none)).toMatch(/^tally: what to export: --series, --geo or --events/);
    const misplaced = await cli("export", ["--events", "--module", MODULE, "--interval", "day"]);
    expect(errorLine(misplaced)).toBe("tally: --interval: not an option of events queries");
  });
});

describe.concurrent("tally demo and tally serve", () => {
  it("demo records the same data set again as duplicates only", async ({ expect }) => {
    const first = await cli("demo", ["--events", "400", "--module-prefix", "demo"]);
    expect(first.code).toBe(0);
    const totals = JSON.parse(first.stdout) as Record<string, { accepted: number; duplicates: number }>;
    expect(Object.keys(totals).sort()).toEqual(["demo-mod-disco", "demo-sys-account"]);
    const accepted = Object.values(totals).reduce((sum, t) => sum + t.accepted, 0);
    expect(accepted).toBeGreaterThan(350);
    const again = await cli("demo", ["--events", "400", "--module-prefix", "demo"]);
    const second = JSON.parse(again.stdout) as Record<string, { accepted: number; duplicates: number }>;
    for (const [module, t] of Object.entries(totals)) {
      // Events that became past between the runs are the only new ones.
      expect(second[module]!.accepted + second[module]!.duplicates).toBeGreaterThanOrEqual(t.accepted);
      expect(second[module]!.duplicates).toBe(t.accepted);
    }
  });

  it("compact merges the module's segments and changes no answer", async ({ expect }) => {
    const before = await directSeries({ interval: "INTERVAL_DAY" });
    const run = await cli("compact", ["--module", MODULE, "-o", "json"]);
    expect(run.code, run.stderr).toBe(0);
    const res = JSON.parse(run.stdout) as {
      partitions: number;
      segmentsBefore: number;
      segmentsAfter: number;
    };
    expect(res.partitions).toBeGreaterThan(0);
    expect(res.segmentsAfter).toBeLessThanOrEqual(res.segmentsBefore);
    expect(await directSeries({ interval: "INTERVAL_DAY" })).toEqual(before);
  });

  it("serve starts the server with --port, --host and --data-dir", async ({ expect }) => {
    const child = spawn(
      process.execPath,
      ["cli/bin/tally.mjs", "serve", "--port", "0", "--host", "127.0.0.1", "--data-dir", tempDir()],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      const served = await new Promise<string>((resolve, reject) => {
        let output = "";
        const timer = setTimeout(() => reject(new Error(`serve did not start: ${output}`)), 30_000);
        child.stdout.on("data", (c: Buffer) => {
          output += c.toString();
          const match = /listening on (http:\/\/\S+)/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
        child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
      });
      const run = await tally(["series", "--module", MODULE, ...RANGE_FLAGS, "--interval", "total"], {
        env: { TALLY_SERVER: served },
      });
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ rows: [{ value: 0 }], nextPageToken: "" });
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
    }
  });
});

describe.concurrent("failures: a non-zero exit and one readable line", () => {
  it("server down: connection refused", async ({ expect }) => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const run = await tally(["series", "--module", MODULE, "--server", `http://127.0.0.1:${port}`]);
    expect(run.code).toBe(1);
    expect(errorLine(run)).toBe(`tally: cannot reach http://127.0.0.1:${port} (connection refused)`);
  });

  it("invalid argument names the field", async ({ expect }) => {
    const [zone, range] = await Promise.all([
      cli("series", ["--module", MODULE, "--tz", "Mars/Base"]),
      cli("events", ["--module", MODULE, "--from", "2026-03-02", "--to", "2026-03-01"]),
    ]);
    expect(zone.code).toBe(1);
    expect(errorLine(zone)).toMatch(
      /^tally: invalid argument: timeZone: "Mars\/Base" is not an IANA time zone/,
    );
    expect(errorLine(range)).toBe("tally: invalid argument: range.end: must be after range.start");
  });

  it("usage errors exit 2", async ({ expect }) => {
    const runs = await Promise.all([
      cli("series", ["--module", MODULE, "--bogus"]),
      cli("series", ["--module", MODULE, "--interval", "fortnight"]),
      cli("series", ["--module", MODULE, "--filter", "=5"]),
      cli("series", ["--module", MODULE, "--from", "last tuesday"]),
      cli("geo", [...RANGE_FLAGS]),
      cli("events", ["--module", MODULE, "--near", "52,13", "--box", "1,2,3,4"]),
      tally(["frobnicate"]),
      // A one-value flag given twice (spelt either way) is refused, not silently the last one.
      cli("series", ["--module", MODULE, "--unique", "a", "--unique", "userId"]),
      cli("series", ["--module", MODULE, "--tz", "UTC", "--time-zone", "Europe/Berlin"]),
      cli("geo", ["--module", MODULE, "--cell", "0"]),
      cli("series", ["--module", MODULE, "--from", "2026-13-01"]),
      // migrate's --to is a server, not a hinted range end.
      cli("migrate", ["--from-dir", tempDir(), "--to", "http://127.0.0.1:1", "--to", "http://127.0.0.1:2"]),
    ]);
    for (const run of runs) {
      expect(run.code).toBe(2);
      expect(run.stdout).toBe("");
    }
    expect(errorLine(runs[0]!)).toBe("tally: unknown option '--bogus'");
    expect(errorLine(runs[4]!)).toBe('tally: --module is required (or "module" in the -f request)');
    expect(errorLine(runs[7]!)).toBe(
      "tally: option '--unique <field>' argument 'userId' is invalid. It takes one value and was given more than once.",
    );
    expect(errorLine(runs[8]!)).toMatch(/^tally: option '--tz <zone>' argument 'Europe\/Berlin' is invalid/);
    expect(errorLine(runs[9]!)).toBe('tally: --cell "0": expected degrees from 0.0001 to 180');
    expect(errorLine(runs[10]!)).toBe('tally: "2026-13-01" is not a date: there is no month 13');
    expect(errorLine(runs[11]!)).toMatch(
      /^tally: option '--to <url>' argument 'http:\/\/127\.0\.0\.1:2' is invalid/,
    );
  });

  it("unauthenticated without a key; --token and TALLY_TOKEN send it", async ({ expect }) => {
    const key = "tally-cli-test-key";
    const dir = tempDir();
    const config = join(dir, "tally.config.json");
    const hash = createHash("sha256").update(key).digest("hex");
    writeFileSync(config, JSON.stringify({ keys: [{ hash, tenant: "t1", scopes: ["read"] }] }));
    const secured = await startServer({ DATA_DIR: join(dir, "data"), TALLY_CONFIG: config });
    servers.push(secured);
    const query = [
      "series",
      "--server",
      secured.url,
      "--module",
      MODULE,
      ...RANGE_FLAGS,
      "--interval",
      "total",
    ];
    const [anonymous, wrong, flag, env, record] = await Promise.all([
      tally(query),
      tally([...query, "--token", "not-the-key"]),
      tally([...query, "--token", key]),
      tally(query, { env: { TALLY_TOKEN: key } }),
      tally(["record", "--server", secured.url, "--module", MODULE, "--token", key], {
        input: '{"type":"a"}\n',
      }),
    ]);
    expect(anonymous.code).toBe(1);
    expect(errorLine(anonymous)).toMatch(/^tally: unauthenticated: missing API key/);
    expect(errorLine(wrong)).toMatch(/^tally: unauthenticated: unknown API key/);
    expect(flag.code).toBe(0);
    expect(JSON.parse(flag.stdout)).toMatchObject({ rows: [{ value: 0 }] });
    expect(env.stdout).toBe(flag.stdout);
    expect(record.code).toBe(1);
    expect(errorLine(record)).toMatch(/^tally: permission denied: /);
  });
});

describe("flag grammar", () => {
  it("parses filters", () => {
    expect(parseFilter("org=org-3")).toEqual({ field: "org", op: "OPERATOR_EQ", values: ["org-3"] });
    expect(parseFilter("n=5|true|null|x")).toEqual({
      field: "n",
      op: "OPERATOR_EQ",
      values: [5, true, null, "x"],
    });
    expect(parseFilter('n="5"')).toEqual({ field: "n", op: "OPERATOR_EQ", values: ["5"] });
    expect(parseFilter('n=["a|b",2]')).toEqual({ field: "n", op: "OPERATOR_EQ", values: ["a|b", 2] });
    expect(parseFilter("a.b!=x")).toEqual({ field: "a.b", op: "OPERATOR_NEQ", values: ["x"] });
    expect(parseFilter("v>=-1.5")).toEqual({ field: "v", op: "OPERATOR_GTE", values: [-1.5] });
    expect(parseFilter("v<2")).toEqual({ field: "v", op: "OPERATOR_LT", values: [2] });
    expect(parseFilter("name~5|leg")).toEqual({
      field: "name",
      op: "OPERATOR_CONTAINS",
      values: ["5", "leg"],
    });
    expect(parseFilter("name=Legal Help")).toEqual({
      field: "name",
      op: "OPERATOR_EQ",
      values: ["Legal Help"],
    });
    expect(parseFilter("x?")).toEqual({ field: "x", op: "OPERATOR_EXISTS" });
    expect(parseFilter("!x")).toEqual({ field: "x", op: "OPERATOR_NOT_EXISTS" });
    expect(() => parseFilter("x")).toThrow(/expected field=value/);
  });

  it("parses times, shapes", () => {
    const now = Date.UTC(2026, 2, 29, 12, 0, 0);
    expect(parseTime("2026-03-29", "Europe/Berlin", now)).toEqual({
      ms: Date.UTC(2026, 2, 28, 23),
      relative: false,
    });
    expect(parseTime("2026-03-30", "Europe/Berlin", now).ms).toBe(Date.UTC(2026, 2, 29, 22));
    expect(parseTime("2026-03-29T09:30", "UTC", now).ms).toBe(Date.UTC(2026, 2, 29, 9, 30));
    expect(parseTime("2026-03-29T09:30:00+02:00", "UTC", now).ms).toBe(Date.UTC(2026, 2, 29, 7, 30));
    expect(parseTime("-7d", "UTC", now)).toEqual({ ms: now - 7 * 86_400_000, relative: true });
    expect(parseTime("today", "Europe/Berlin", now).ms).toBe(Date.UTC(2026, 2, 28, 23));
    expect(() => parseTime("yesterday-ish", "UTC", now)).toThrow(/not a time/);
    // Days and hours the calendar lacks are refused, not rolled into the next month (Date.UTC would).
    expect(() => parseTime("2026-02-30", "UTC", now)).toThrow(
      '"2026-02-30" is not a date: February 2026 has 28 days',
    );
    expect(() => parseTime("2026-13-01", "UTC", now)).toThrow(
      '"2026-13-01" is not a date: there is no month 13',
    );
    expect(() => parseTime("2026-03-29T24:00", "UTC", now)).toThrow(/is not a date: hours run from 00 to 23/);
    expect(() => parseTime("2026-04-31T00:00:00Z", "UTC", now)).toThrow(
      /is not a time: April 2026 has 30 days/,
    );
    expect(parseTime("2028-02-29", "UTC", now).ms).toBe(Date.UTC(2028, 1, 29));
    // Instants without seconds, or with an offset without its colon, too.
    expect(() => parseTime("2026-02-30T00:00Z", "UTC", now)).toThrow(/February 2026 has 28 days/);
    expect(() => parseTime("2026-02-30T00:00:00+0100", "UTC", now)).toThrow(/February 2026 has 28 days/);
    expect(() => parseTime("2026-03-31T24:00+02:00", "UTC", now)).toThrow(/hours run from 00 to 23/);
    expect(parseTime("2026-03-31T23:00+0200", "UTC", now).ms).toBe(Date.UTC(2026, 2, 31, 21));
    expect(parseNear("-33.87,151.21,50km")).toEqual({
      circle: { center: { lat: -33.87, lon: 151.21 }, radiusMeters: 50_000 },
    });
    expect(parseNear("1,2,300")).toMatchObject({ circle: { radiusMeters: 300 } });
    expect(parseBox("1,2,3,4")).toEqual({ box: { south: 1, west: 2, north: 3, east: 4 } });
    expect(() => parseBox("1,2,3")).toThrow(/south,west,north,east/);
  });
});
