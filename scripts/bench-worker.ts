/**
 * `npm run bench:worker`: the bench query suite (bench-queries.ts) as RPCs over HTTP, on workerd (the Worker
 * bundle in Miniflare, events in its local R2, recorded and compacted through its own RPCs) against Node
 * (`npm start`'s server, events on the filesystem), with the same events, compacted the same way. Both answers must be equal, RPC by RPC.
 *
 *   npm run bench:worker -- --events 1000000 --runs 5 --step-events 1000000 --worker-cache-mib 32,256
 *
 * Each query is sent once to warm the caches (not timed), then `--runs` times; medians are reported. Both
 * servers get Connect binary over keep-alive HTTP/1.1 from the same client. On workerd each QuerySeries and
 * QueryGeo runs in steps of `--step-events` events (TALLY_STEP_EVENTS), each step a request to a fresh
 * Durable Object, as deployed; `--step-events` below the event count shows what the extra steps cost.
 * Miniflare's R2 is a local SQLite and blob store, not R2's network latency: this compares runtimes, not
 * a deployment.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type MessageInitShape, toJsonString } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Miniflare } from "miniflare";
import { createStorage, type Storage } from "unstorage";
import {
  AggregationFunction,
  type FilterSchema,
  type GeoFilterSchema,
  Interval,
  ListEventsResponseSchema,
  QueryGeoResponseSchema,
  QuerySeriesResponseSchema,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { fsAtomicDriver } from "../storage-drivers/fs-atomic.ts";
import { compactModule } from "../store/compaction.ts";
import { EventStore } from "../store/event-store.ts";
import type { FilterSpec, GeoSpec } from "../store/query-spec.ts";
import { startServer } from "../test/server-process.ts";
import { generateEventChunks, toEventInit } from "./bench-data.ts";
import { type BenchQuery, END, MODULE, QUERIES, START, TENANT } from "./bench-queries.ts";
import { BUNDLE, buildWorker, wranglerCompatibility } from "./build-worker.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    runs: { type: "string", default: "5" },
    "step-events": { type: "string", default: "1000000" },
    "worker-cache-mib": { type: "string", default: "32,256" },
  },
});
const N = Number(args.events);
const RUNS = Number(args.runs);
const STEP_EVENTS = Number(args["step-events"]);
/** The Worker's segment cache (TALLY_CACHE_BYTES), one run per size; an isolate has 128 MB. Node: 256 MiB. */
const WORKER_CACHE_MIB = String(args["worker-cache-mib"]).split(",").map(Number);
const BATCH = 1000;
const log = (m: string) => process.stderr.write(`${m}\n`);

const INTERVALS = {
  hour: Interval.HOUR,
  day: Interval.DAY,
  week: Interval.WEEK,
  month: Interval.MONTH,
} as const;
const FNS = { count: AggregationFunction.COUNT, count_unique: AggregationFunction.COUNT_UNIQUE } as const;

function filters(list: FilterSpec[]): MessageInitShape<typeof FilterSchema>[] {
  return list.map((f) => {
    if (f.op !== "eq") throw new Error(`bench-worker: operator ${f.op} not mapped`);
    return {
      field: f.field,
      op: 1,
      values: f.values.map((v) => ({ kind: { case: "stringValue", value: String(v) } })),
    };
  });
}

function geo(spec: GeoSpec | undefined): MessageInitShape<typeof GeoFilterSchema> | undefined {
  if (!spec) return undefined;
  if (spec.kind === "circle")
    return {
      shape: {
        case: "circle",
        value: { center: { lat: spec.lat, lon: spec.lon }, radiusMeters: spec.radiusMeters },
      },
    };
  return { shape: { case: "box", value: spec } };
}

/** One bench query as its RPC, answered in full (one page), as canonical JSON to compare runtimes. */
async function rpc(client: Client<typeof TelemetryService>, q: BenchQuery): Promise<string> {
  const t = q.tally;
  const base = {
    module: MODULE,
    range: { start: timestampFromMs(t.sel.start), end: timestampFromMs(t.sel.end) },
    types: t.sel.types,
    filters: filters(t.sel.filters),
    ...(t.sel.geo ? { geo: geo(t.sel.geo) } : {}),
  };
  if (t.kind === "series") {
    const s = t.series;
    const res = await client.querySeries({
      ...base,
      interval: INTERVALS[s.interval as keyof typeof INTERVALS],
      timeZone: s.timeZone,
      weekStart: s.weekStart,
      groupBy: s.groupBy,
      aggregation: { function: FNS[s.aggregation.fn as keyof typeof FNS], field: s.aggregation.field },
      pageSize: 10_000,
    });
    if (res.nextPageToken) throw new Error(`${q.name}: more than one page`);
    return toJsonString(QuerySeriesResponseSchema, res);
  }
  if (t.kind === "geo") {
    const res = await client.queryGeo({
      ...base,
      cellDegrees: t.cellDegrees,
      minCount: t.minCount,
      pageSize: 10_000,
    });
    if (res.nextPageToken) throw new Error(`${q.name}: more than one page`);
    return toJsonString(QueryGeoResponseSchema, res);
  }
  const res = await client.listEvents({ ...base, pageSize: t.limit });
  return toJsonString(ListEventsResponseSchema, { ...res, nextPageToken: "" });
}

/**
 * The same events into the Worker through RecordEvents (binary, 1,000-event batches), then the Compact RPC:
 * the path a deployment takes. (Writing R2 from Node through Miniflare's binding proxy fails under load.)
 */
async function ingestIntoWorker(client: Client<typeof TelemetryService>): Promise<void> {
  const started = performance.now();
  let done = 0;
  for (const chunk of generateEventChunks(N, { start: START, end: END, chunk: 100 * BATCH })) {
    for (let i = 0; i < chunk.length; i += BATCH) {
      const res = await client.recordEvents({
        module: MODULE,
        events: chunk.slice(i, i + BATCH).map(toEventInit),
      });
      if (res.duplicates !== 0) throw new Error("bench-worker: the Worker counted duplicates");
    }
    done += chunk.length;
    log(`  R2 through the Worker: ${done.toLocaleString("en-US")} events`);
  }
  await client.compact({ module: MODULE });
  log(
    `  R2 through the Worker: ingested and compacted in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

async function ingest(storage: Storage, label: string): Promise<void> {
  const store = new EventStore({ storage, cacheBytes: 64 * 1024 * 1024 });
  const started = performance.now();
  let done = 0;
  for (const chunk of generateEventChunks(N, { start: START, end: END, chunk: 100 * BATCH })) {
    for (let i = 0; i < chunk.length; i += BATCH)
      await store.record(TENANT, MODULE, chunk.slice(i, i + BATCH));
    done += chunk.length;
    log(`  ${label}: ${done.toLocaleString("en-US")} events`);
  }
  await compactModule(store, TENANT, MODULE);
  log(`  ${label}: ingested and compacted in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const clientOf = (baseUrl: string) =>
  createClient(
    TelemetryService,
    createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  );

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "tally-bench-worker-"));
  const stops: (() => Promise<unknown>)[] = [];
  try {
    log(
      `Generating and storing ${N.toLocaleString("en-US")} events twice (filesystem for Node, R2 for workerd)`,
    );
    await buildWorker();
    const options = (cacheMib: number) => ({
      name: "tally",
      modules: true,
      scriptPath: BUNDLE,
      ...wranglerCompatibility(),
      cf: false,
      port: 0,
      r2Buckets: ["TALLY_BUCKET"],
      r2Persist: join(dir, "r2"),
      durableObjects: { STEPS: "QueryStep" },
      bindings: {
        TALLY_SECRET: "bench",
        TALLY_OPEN: "true",
        TALLY_STEP_EVENTS: String(STEP_EVENTS),
        TALLY_CACHE_BYTES: String(cacheMib * 1024 * 1024),
      },
    });
    const mf = new Miniflare(options(WORKER_CACHE_MIB[0]!));
    stops.push(() => mf.dispose());
    await mf.ready;
    await ingest(createStorage({ driver: fsAtomicDriver({ base: join(dir, "fs") }) }), "filesystem");
    await ingestIntoWorker(clientOf((await mf.ready).origin));
    const node = await startServer({ DATA_DIR: join(dir, "fs") });
    stops.push(() => node.stop());

    for (const [i, cacheMib] of WORKER_CACHE_MIB.entries()) {
      // Restarting workerd keeps R2 (persisted on disk) and empties the Worker's cache.
      if (i > 0) await mf.setOptions(options(cacheMib));
      const clients = { node: clientOf(node.url), workerd: clientOf((await mf.ready).origin) };
      const rows: { name: string; node: number; workerd: number }[] = [];
      for (const q of QUERIES) {
        const answers = { node: await rpc(clients.node, q), workerd: await rpc(clients.workerd, q) };
        if (answers.node !== answers.workerd)
          throw new Error(`ANSWER MISMATCH between Node and workerd: ${q.name}`);
        const times = { node: [] as number[], workerd: [] as number[] };
        for (let r = 0; r < RUNS; r++)
          for (const runtime of ["node", "workerd"] as const) {
            const t0 = performance.now();
            await rpc(clients[runtime], q);
            times[runtime].push(performance.now() - t0);
          }
        rows.push({ name: q.name, node: median(times.node), workerd: median(times.workerd) });
        log(
          `  ${q.name}: Node ${median(times.node).toFixed(1)} ms, workerd ${median(times.workerd).toFixed(1)} ms`,
        );
      }
      console.log(
        `\nBench queries over HTTP (Connect binary, HTTP/1.1), ${N.toLocaleString("en-US")} events, warm, median of ${RUNS} — ` +
          `${new Date().toISOString()}; workerd query steps of ${STEP_EVENTS.toLocaleString("en-US")} events, ` +
          `Worker segment cache ${cacheMib} MiB (Node 256 MiB)\n`,
      );
      console.log("| query | Node ms | workerd ms | workerd ÷ Node |\n|---|---:|---:|---:|");
      for (const r of rows)
        console.log(
          `| ${r.name} | ${r.node.toFixed(1)} | ${r.workerd.toFixed(1)} | ${(r.workerd / r.node).toFixed(2)} |`,
        );
    }
    console.log("\nEvery answer was the same on both runtimes.");
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
