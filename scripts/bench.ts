/**
 * `npm run bench [-- --events 1000000] [--json]`: a benchmark, not a test.
 *
 * Generates seeded events, records them in-process into the filesystem store in 1,000-event batches, then
 * times full-scan queries warm (decoded segments cached) and cold (a fresh store over the same files), each
 * against a reference in the same run: a plain JavaScript loop over the events held in memory as objects,
 * which is what "iterate over the events" costs with no store at all. Medians of several runs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStorage } from "unstorage";
import { fsAtomicDriver } from "../storage-drivers/fs-atomic.ts";
import { EventStore } from "../store/event-store.ts";
import { exportCsv } from "../store/export.ts";
import type { SeriesSpec } from "../store/query-spec.ts";
import { querySeries } from "../store/series.ts";
import { type GeneratedEvent, generateEvents } from "./bench-data.ts";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const N = Number(flag("--events") ?? 1_000_000);
const RUNS = Number(flag("--runs") ?? 5);
const asJson = args.includes("--json");
const log = (line: string) => {
  if (!asJson) console.log(line);
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timeIt(fn: () => Promise<unknown> | unknown, runs = RUNS): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

const START = Date.UTC(2026, 0, 1);
const END = Date.UTC(2026, 6, 1);
const DAY = 86_400_000;

interface Query {
  name: string;
  spec: Omit<SeriesSpec, "tenant" | "module" | "asOf">;
  reference: (events: GeneratedEvent[]) => Map<string, number>;
}

const base = {
  types: [],
  filters: [],
  timeZone: "UTC",
  weekStart: 1,
  groupBy: [],
  aggregation: { fn: "count" as const, field: "" },
};
const QUERIES: Query[] = [
  {
    name: "full scan: daily counts, all events",
    spec: { ...base, start: START, end: END, interval: "day" },
    reference: (events) => countBy(events, (e) => [String(Math.floor(e.time / DAY))]),
  },
  {
    name: "full range: supplies.name = Childcare, by type",
    spec: {
      ...base,
      start: START,
      end: END,
      interval: "week",
      groupBy: ["type"],
      filters: [{ field: "supplies.name", op: "eq", values: ["Childcare"] }],
    },
    reference: (events) =>
      countBy(events, (e) =>
        Array.isArray(e.data.supplies) &&
        e.data.supplies.some((s) => (s as { name?: string }).name === "Childcare")
          ? [e.type]
          : [],
      ),
  },
  {
    name: "30 days, org = org-3, hourly",
    spec: {
      ...base,
      start: START + 60 * DAY,
      end: START + 90 * DAY,
      interval: "hour",
      filters: [{ field: "org", op: "eq", values: ["org-3"] }],
    },
    reference: (events) =>
      countBy(events, (e) =>
        e.time >= START + 60 * DAY && e.time < START + 90 * DAY && e.data.org === "org-3" ? ["x"] : [],
      ),
  },
];

function countBy(events: GeneratedEvent[], keys: (e: GeneratedEvent) => string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) for (const k of keys(e)) out.set(k, (out.get(k) ?? 0) + 1);
  return out;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "tally-bench-"));
  const storage = () => createStorage({ driver: fsAtomicDriver({ base: dir }) });
  try {
    log(`Generating ${N.toLocaleString("en")} events…`);
    const events = generateEvents(N, { start: START, end: END });
    const store = new EventStore({ storage: storage(), cacheBytes: 4 * 1024 ** 3 });
    const t0 = performance.now();
    for (let i = 0; i < events.length; i += 1000)
      await store.record("default", "bench", events.slice(i, i + 1000));
    const ingestSeconds = (performance.now() - t0) / 1000;
    const ingestRate = N / ingestSeconds;
    log(
      `Ingest in-process (1,000-event batches, fs store with fsync): ${Math.round(ingestRate).toLocaleString("en")} events/s`,
    );

    const results = [];
    for (const q of QUERIES) {
      const spec = { ...q.spec, tenant: "default", module: "bench", asOf: Date.now() } as SeriesSpec;
      const sum = (r: Awaited<ReturnType<typeof querySeries>>) => {
        let s = 0;
        for (let b = 0; b < r.starts.length; b++)
          for (let g = 0; g < r.groups.length; g++) s += r.value(b, g);
        return s;
      };
      const limits = { maxGroups: 10_000 };
      const tallyTotal = sum(await querySeries(store, spec, limits));
      const refTotal = [...q.reference(events).values()].reduce((a, b) => a + b, 0);
      if (tallyTotal !== refTotal)
        throw new Error(`${q.name}: Tally counted ${tallyTotal}, the reference ${refTotal}`);
      const warm = await timeIt(() => querySeries(store, spec, limits));
      const cold = await timeIt(() => querySeries(new EventStore({ storage: storage() }), spec, limits), 3);
      const reference = await timeIt(() => q.reference(events));
      results.push({
        query: q.name,
        matched: tallyTotal,
        warmMs: warm,
        coldMs: cold,
        referenceMs: reference,
      });
    }
    // Export: every event as CSV, the whole answer, consumed as a client would.
    const exportSpec = {
      kind: "events" as const,
      spec: {
        tenant: "default",
        module: "bench",
        start: START,
        end: END,
        types: [],
        filters: [],
        asOf: Date.now(),
        order: "asc" as const,
      },
      columns: [],
    };
    const e0 = performance.now();
    let exportBytes = 0;
    for await (const chunk of exportCsv(store, exportSpec, { bom: false, limits: { maxGroups: 10_000 } }))
      exportBytes += chunk.length;
    const exportSeconds = (performance.now() - e0) / 1000;
    const exportRate = N / exportSeconds;
    log(
      `Export of all ${N.toLocaleString("en")} events as CSV: ${Math.round(exportRate).toLocaleString("en")} rows/s (${(exportBytes / 1024 ** 2).toFixed(0)} MiB)`,
    );
    const rss = process.memoryUsage().rss;
    if (asJson) {
      console.log(
        JSON.stringify(
          { events: N, ingestEventsPerSecond: Math.round(ingestRate), queries: results, rssBytes: rss },
          null,
          2,
        ),
      );
    } else {
      console.log("\n| query | matched | Tally warm ms | Tally cold ms | reference ms | warm / reference |");
      console.log("|---|---|---|---|---|---|");
      for (const r of results) {
        console.log(
          `| ${r.query} | ${r.matched} | ${r.warmMs.toFixed(1)} | ${r.coldMs.toFixed(1)} | ${r.referenceMs.toFixed(1)} | ${(r.warmMs / r.referenceMs).toFixed(2)} |`,
        );
      }
      console.log(
        `\nRSS ${(rss / 1024 ** 2).toFixed(0)} MiB. Reference: a JS loop over the events as in-memory objects.`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
