/**
 * `npm run bench [-- --events 1000000] [--runs 5] [--warmup 3] [--warmup-ms 500] [--cold-runs 5] [--http-events N] [--http-senders 4] [--no-compact] [--json]`: a benchmark,
 * not a test. docs/performance.md describes the method and keeps results.
 *
 * 1. Generates N seeded events (scripts/bench-data.ts, streamed in chunks so 10 M fit in memory) and
 *    records them in-process into a filesystem store in 1,000-event batches: events/s of `record` alone.
 *    Then compacts the module, as a server's background compactor would (`--no-compact` skips it).
 * 2. Sends the first `--http-events` (default min(N, 1 M)) to a real server over Connect binary, HTTP/1.1,
 *    1,000-event batches encoded beforehand, 4 concurrent senders (`--http-senders`): events/s the server sustains.
 * 3. Loads the same events into DuckDB (an in-memory table, and Parquet written by COPY).
 * 4. Runs the query suite (scripts/bench-queries.ts) and checks that every Tally answer equals DuckDB's —
 *    a mismatch fails the run. Times, medians of several runs:
 *    - Tally warm: store functions called in this process, segments cached (and what a query derives from
 *      them and keeps, the first untimed run's); DuckDB in-memory table, 1 thread (and 2 threads, for
 *      information).
 *    - Tally cold: a new process per run (scripts/bench-cold.ts) with a fresh store, only the query timed;
 *      DuckDB over Parquet with a fresh instance per run (read_parquet in the query), 1 thread. Neither
 *      drops the OS page cache: "cold" means empty process caches, files read from memory.
 * 5. Exports every event as CSV (rows/s), through a store with the server's default cache.
 *
 * Targets (ratios of medians, 10 M events): warm ≤ 0.5 × DuckDB in-memory; cold ≤ 1.5 × DuckDB over
 * Parquet; ingest ≥ 1 M events/s in-process and ≥ 200 k events/s over HTTP.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createStorage } from "unstorage";
import { nodeCrc32 } from "../functions/node-crc32.ts";
import { nodeInflate } from "../functions/node-inflate.ts";
import { fsAtomicDriver } from "../storage-drivers/fs-atomic.ts";
import { compactModule } from "../store/compaction.ts";
import { EventStore } from "../store/event-store.ts";
import { exportCsv } from "../store/export.ts";
import type { StoredEvent } from "../store/json.ts";
import { generateEventChunks } from "./bench-data.ts";
import { countRows, loadTable, openDuck, parquetSource, rowsOf, TsvWriter } from "./bench-duckdb.ts";
import { encodeBatch, httpIngest } from "./bench-http.ts";
import {
  answerDigest,
  answerSize,
  assertSameAnswer,
  duckAnswer,
  END,
  MAX_GROUPS,
  MODULE,
  QUERIES,
  runTally,
  START,
  TENANT,
} from "./bench-queries.ts";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
/** A whole-number flag of at least `min`; anything else stops the run before it starts. */
const count = (name: string, fallback: number, min: number) => {
  const text = flag(name);
  const n = text === undefined ? fallback : Number(text);
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`bench: ${name} must be a whole number ≥ ${min}, got ${text}`);
  return n;
};
const N = count("--events", 1_000_000, 1);
const RUNS = count("--runs", 5, 1);
/**
 * Untimed runs before a warm query's timed ones, on both sides (Tally's first also checks the answer):
 * warm means steady state, and a query's first few runs here still share the 2 cores with V8 compiling
 * its code in the background (process CPU ~2× wall time then, ~1× once settled). At least `--warmup`
 * runs, and more until those after the first have taken `--warmup-ms` (at most MAX_WARMUP_RUNS): a query of a few
 * milliseconds needs tens of runs before V8 has optimized what it calls (a full-range rollup count at
 * 10 M events: 10–24 ms over its first 20 runs, ~5 ms after 40), one of seconds is steady after one.
 */
const WARMUP = count("--warmup", 3, 1);
const WARMUP_MS = count("--warmup-ms", 500, 0);
/** The time rule's bound on untimed runs (a count asked for with `--warmup` is always made). */
const MAX_WARMUP_RUNS = 100;
const COLD_RUNS = count("--cold-runs", 5, 1);
const HTTP_EVENTS = Math.min(N, count("--http-events", 1_000_000, 1));
/** Concurrent senders over HTTP: 4 by default, as in every run so far; more show what group commit makes of more clients. */
const HTTP_SENDERS = count("--http-senders", 4, 1);
/** Concurrent `record` callers in-process, as the HTTP phase has concurrent senders (a server's requests). */
const CALLERS = count("--callers", 4, 1);
const asJson = args.includes("--json");
const COMPACT = !args.includes("--no-compact");
const BATCH = 1000;
const WARM_TARGET = 0.5;
const COLD_TARGET = 1.5;
const ROLLUP_TARGET_MS = 20;
const IN_PROCESS_TARGET = 1_000_000;
/** The issue sets its targets for a run of this many events. */
const TARGET_EVENTS = 10_000_000;
const HTTP_TARGET = 200_000;

/** Progress goes to stderr, so that `--json` leaves stdout to the result. */
const progress = (line: string) => console.error(`[bench] ${line}`);
const fmt = (n: number) => Math.round(n).toLocaleString("en");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/**
 * The untimed runs after a query's first (which fills caches and checks the answer, so its time says
 * nothing of the warm runs'): WARMUP in all with the first, and more while they have taken less than
 * WARMUP_MS (up to MAX_WARMUP_RUNS). Returns how many runs it made, the first and the two after the
 * collection below included.
 *
 * Then a full garbage collection, so that the timed runs do not pay for what earlier phases left (the
 * query's first run's reads, the cold processes' and DuckDB's results): in this process's multi-GB heap a
 * major collection's marking and pause may land in a query's timed runs (a 6 ms warm query's median at
 * 24.6 ms, its next five runs 16.4). Two more untimed runs after it: the first run after a full
 * collection is slower (a few ms at 20,000 events; V8 shrinks its young generation). The timed runs
 * still collect their own garbage.
 */
async function warmUp(fn: () => Promise<unknown>): Promise<number> {
  const since = performance.now();
  let runs = 1;
  while (runs < WARMUP || (runs < MAX_WARMUP_RUNS && performance.now() - since < WARMUP_MS)) {
    await fn();
    runs++;
  }
  collectGarbage();
  for (let i = 0; i < 2; i++, runs++) await fn();
  return runs;
}

/** V8's full collection, without running the whole benchmark under --expose-gc. */
const collectGarbage: () => void = (() => {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

async function timeIt(fn: () => Promise<unknown>, runs = RUNS, times: number[] = []): Promise<number> {
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

const runFile = promisify(execFile);
async function coldTally(dir: string, query: number, asOf: number) {
  const { stdout } = await runFile(
    process.execPath,
    [
      "--import",
      "tsx",
      "scripts/bench-cold.ts",
      "--dir",
      dir,
      "--query",
      String(query),
      "--as-of",
      String(asOf),
    ],
    { cwd: new URL("..", import.meta.url).pathname, maxBuffer: 1024 * 1024 },
  );
  return JSON.parse(stdout.trim().split("\n").pop()!) as { ms: number; digest: string; maxRssBytes: number };
}

interface QueryResult {
  query: string;
  inIssueSuite: boolean;
  answerRows: number;
  /**
   * The query's first run in the warm process: what earlier queries read is cached; columns only this
   * query reads (a rollup table) are fetched, and nothing it derives (projections, indexes, the counts
   * rollups keep per query shape) is made yet.
   */
  tallyFirstMs: number;
  tallyWarmMs: number;
  /** Rollup queries: warm runs that reuse no counts kept for the shape (every segment counted afresh). */
  tallyWarmNoReuseMs?: number;
  /** The timed warm runs, in order (tallyWarmMs is their median). */
  tallyWarmRunsMs: number[];
  /** Untimed runs before the timed ones, the first included (warmUp). */
  tallyWarmupRuns: number;
  duckWarmupRuns: number;
  duckMemMs: number;
  duckMem2ThreadsMs: number;
  warmRatio: number;
  warmTargetMet: boolean;
  tallyColdMs: number;
  tallyColdMaxRssBytes: number;
  duckParquetMs: number;
  coldRatio: number;
  coldTargetMet: boolean;
  /** QuerySeries: segments counted from their rollups and by scanning their rows. */
  segmentsFromRollups?: number;
  segmentsScanned?: number;
  /** Queries rollups answered alone (and those meant for them): warm within ROLLUP_TARGET_MS. */
  rollupTargetMet?: boolean;
}

async function main() {
  const base = mkdtempSync(join(tmpdir(), "tally-bench-"));
  const storeDir = join(base, "store");
  const httpDir = join(base, "http");
  mkdirSync(storeDir);
  const tsvPath = join(base, "events.tsv");
  const parquetPath = join(base, "events.parquet");
  const started = new Date();
  const loadAtStart = loadavg()[0]!;
  /** Wall-clock seconds of each phase, for planning runs. */
  const phases: Record<string, number> = {};
  let phaseStart = performance.now();
  const phase = (name: string) => {
    phases[name] = Math.round((performance.now() - phaseStart) / 100) / 10;
    phaseStart = performance.now();
  };
  try {
    // 1. Generate, record in-process (timed), and write the DuckDB input and the HTTP batches (untimed).
    progress(`generating ${fmt(N)} events; recording in-process; writing TSV for DuckDB…`);
    const openStore = (cacheBytes?: number) =>
      new EventStore({
        storage: createStorage({ driver: fsAtomicDriver({ base: storeDir }) }),
        cacheBytes,
        inflate: nodeInflate,
        crc32: nodeCrc32,
        // As the Node server's store (functions/node.ts): concurrent callers' batches committed together.
        groupCommit: true,
      });
    let ingestStore: EventStore | undefined = openStore(64 * 1024 ** 3);
    const tsv = new TsvWriter(tsvPath);
    const httpBatches: { bytes: Uint8Array; count: number }[] = [];
    let httpCheck: StoredEvent[] = [];
    // Timed: the wall-clock time during which at least one `record` call is in flight (generating events
    // and writing the TSV between calls is not ingest).
    let recordMs = 0;
    let busySince = 0;
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    const record = (batch: StoredEvent[]) => {
      if (inFlight.size === 0) busySince = performance.now();
      const call: Promise<void> = ingestStore!.record(TENANT, MODULE, batch).then(
        () => settle(),
        (error) => {
          failure ??= error;
          settle();
        },
      );
      const settle = () => {
        inFlight.delete(call);
        if (inFlight.size === 0) recordMs += performance.now() - busySince;
      };
      inFlight.add(call);
    };
    let done = 0;
    for (const chunk of generateEventChunks(N, { start: START, end: END, chunk: 100 * BATCH })) {
      // The HTTP phase's request bodies first: nothing untimed runs while a record call is in flight.
      for (let i = 0; i < chunk.length && done + i < HTTP_EVENTS; i += BATCH) {
        const take = chunk.slice(i, Math.min(i + BATCH, i + HTTP_EVENTS - (done + i)));
        httpBatches.push({ bytes: encodeBatch(MODULE, take), count: take.length });
      }
      for (let i = 0; i < chunk.length; i += BATCH) {
        if (inFlight.size >= CALLERS) await Promise.race(inFlight);
        record(chunk.slice(i, i + BATCH));
      }
      // A failed record must fail the run: wait for this chunk's calls before the next chunk.
      await Promise.all(inFlight);
      if (failure) throw failure;
      if (done === 0) httpCheck = chunk.slice(0, 10);
      tsv.write(chunk);
      done += chunk.length;
      if (done % 1_000_000 === 0 || done === N)
        progress(`  ${fmt(done)} events, record so far ${fmt(done / (recordMs / 1000))} events/s`);
    }
    tsv.close();
    const ingestRate = N / (recordMs / 1000);
    const countFiles = () =>
      readdirSync(storeDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
    const ingestedBytes = dirBytes(storeDir);
    const ingestedSegments = countFiles();
    progress(`in-process ingest: ${fmt(ingestRate)} events/s; store ${fmt(ingestedBytes / 1024 ** 2)} MiB`);

    // What a server's background compactor does to the partitions it wrote, all at once (--no-compact: skip).
    phase("generate and ingest in-process");
    let compactMs = 0;
    if (COMPACT) {
      progress("compacting…");
      const t = performance.now();
      await compactModule(ingestStore, TENANT, MODULE);
      compactMs = performance.now() - t;
    }
    ingestStore = undefined;
    const storeBytes = dirBytes(storeDir);
    const segments = countFiles();
    // The queries get a store of their own: its cache holds only the segments they read.
    const store = openStore(64 * 1024 ** 3);

    // 2. HTTP ingest.
    phase("compact");
    progress(`HTTP ingest of ${fmt(HTTP_EVENTS)} events…`);
    const http = await httpIngest(httpDir, MODULE, httpBatches, httpCheck, HTTP_SENDERS);
    httpBatches.length = 0;
    rmSync(httpDir, { recursive: true, force: true });
    progress(`HTTP ingest: ${fmt(http.eventsPerSecond)} events/s`);

    // 3. DuckDB: load with 2 threads (not what is compared), then query with 1.
    phase("HTTP ingest");
    progress("loading DuckDB…");
    const duck = await openDuck(2);
    const load = await loadTable(duck.conn, tsvPath, parquetPath);
    rmSync(tsvPath, { force: true });
    const duckRows = await countRows(duck.conn);
    if (duckRows !== N) throw new Error(`DuckDB loaded ${duckRows} events, expected ${N}`);
    const duckVersion = String((await rowsOf(duck.conn, "SELECT version() AS v"))[0]!.v);
    progress(
      `DuckDB: table in ${fmt(load.tableMs)} ms, Parquet in ${fmt(load.parquetMs)} ms (${fmt(load.parquetBytes / 1024 ** 2)} MiB)`,
    );

    // 4. Queries.
    phase("DuckDB load");
    const asOf = Date.now();
    const results: QueryResult[] = [];
    let coldMaxRss = 0;
    for (const [index, q] of QUERIES.entries()) {
      progress(`query: ${q.name}`);
      // Tally warm: the first run checks the answer (and fills the cache), the rest of the warm-up runs,
      // then the timed runs.
      const firstStart = performance.now();
      const first = await runTally(store, q, asOf);
      const tallyFirstMs = performance.now() - firstStart;
      const tallyAnswer = first.answer();
      const digest = answerDigest(tallyAnswer);
      const tallyWarmupRuns = await warmUp(() => runTally(store, q, asOf));
      const tallyWarmRunsMs: number[] = [];
      const tallyWarmMs = await timeIt(() => runTally(store, q, asOf), RUNS, tallyWarmRunsMs);
      // The issue's rollup target is for every query rollups answer alone, whichever it is; a query meant
      // for them that scanned rows fails it.
      const stats = first.rollupStats;
      const fromRollups = stats !== undefined && stats.rows === 0 && stats.rollup > 0;
      // Rollup-served queries also without the counts segments kept for the shape: a new chart's cost.
      const tallyWarmNoReuseMs = fromRollups
        ? await timeIt(() => runTally(store, q, asOf, false))
        : undefined;

      // DuckDB in-memory table.
      await duck.conn.run("SET threads = 1");
      const memSql = q.sql("events");
      assertSameAnswer(
        `${q.name} (DuckDB in-memory)`,
        tallyAnswer,
        duckAnswer(q, await rowsOf(duck.conn, memSql)),
      );
      const duckWarmupRuns = await warmUp(() => rowsOf(duck.conn, memSql));
      const duckMemMs = await timeIt(() => rowsOf(duck.conn, memSql));
      await duck.conn.run("SET threads = 2");
      const duckMem2ThreadsMs = await timeIt(() => rowsOf(duck.conn, memSql));
      await duck.conn.run("SET threads = 1");

      // Tally cold: a new process per run.
      const coldTimes: number[] = [];
      let tallyColdMaxRssBytes = 0;
      for (let r = 0; r < COLD_RUNS; r++) {
        const cold = await coldTally(storeDir, index, asOf);
        if (cold.digest !== digest)
          throw new Error(`ANSWER MISMATCH in "${q.name}": the cold process answered differently`);
        coldTimes.push(cold.ms);
        coldMaxRss = Math.max(coldMaxRss, cold.maxRssBytes);
        tallyColdMaxRssBytes = Math.max(tallyColdMaxRssBytes, cold.maxRssBytes);
      }
      const tallyColdMs = median(coldTimes);

      // DuckDB over Parquet: a fresh instance per run.
      const parquetSql = q.sql(parquetSource(parquetPath));
      const parquetTimes: number[] = [];
      for (let r = 0; r < COLD_RUNS; r++) {
        const fresh = await openDuck(1);
        const t = performance.now();
        const rows = await rowsOf(fresh.conn, parquetSql);
        parquetTimes.push(performance.now() - t);
        fresh.conn.closeSync();
        fresh.instance.closeSync();
        if (r === 0) assertSameAnswer(`${q.name} (DuckDB Parquet)`, tallyAnswer, duckAnswer(q, rows));
      }
      const duckParquetMs = median(parquetTimes);

      const warmRatio = tallyWarmMs / duckMemMs;
      const coldRatio = tallyColdMs / duckParquetMs;
      results.push({
        query: q.name,
        inIssueSuite: q.suite,
        segmentsFromRollups: first.rollupStats?.rollup,
        segmentsScanned: first.rollupStats?.rows,
        rollupTargetMet: fromRollups || q.rollup ? fromRollups && tallyWarmMs <= ROLLUP_TARGET_MS : undefined,
        answerRows: answerSize(tallyAnswer),
        tallyFirstMs,
        tallyWarmMs,
        tallyWarmNoReuseMs,
        tallyWarmupRuns,
        duckWarmupRuns,
        tallyWarmRunsMs: tallyWarmRunsMs.map((ms) => Math.round(ms * 10) / 10),
        duckMemMs,
        duckMem2ThreadsMs,
        warmRatio,
        warmTargetMet: warmRatio <= WARM_TARGET,
        tallyColdMs,
        tallyColdMaxRssBytes,
        duckParquetMs,
        coldRatio,
        coldTargetMet: coldRatio <= COLD_TARGET,
      });
    }
    duck.conn.closeSync();
    duck.instance.closeSync();

    // 5. Export: every event as CSV, the whole answer, consumed as a client would.
    phase("queries");
    progress("exporting every event as CSV…");
    const exportSpec = {
      kind: "events" as const,
      spec: {
        tenant: TENANT,
        module: MODULE,
        start: START,
        end: END,
        types: [],
        filters: [],
        asOf,
        order: "asc" as const,
      },
      columns: [],
    };
    const e0 = performance.now();
    let exportChars = 0;
    // A store as a server opens it (default cache), so that 10 M exported events' decoded JSON is not all
    // kept alive by the warm store's cache.
    const exportStore = openStore();
    for await (const chunk of exportCsv(exportStore, exportSpec, {
      bom: false,
      limits: { maxGroups: MAX_GROUPS },
    }))
      exportChars += chunk.length;
    const exportRate = N / ((performance.now() - e0) / 1000);
    phase("export");

    const report = {
      date: started.toISOString(),
      loadAverage: { start: loadAtStart, end: loadavg()[0]! },
      machine: {
        cpu: cpus()[0]?.model ?? "unknown",
        cores: cpus().length,
        node: process.version,
        duckdb: duckVersion,
      },
      events: N,
      runs: { warm: RUNS, warmup: WARMUP, warmupMs: WARMUP_MS, maxWarmup: MAX_WARMUP_RUNS, cold: COLD_RUNS },
      ingest: {
        inProcessEventsPerSecond: Math.round(ingestRate),
        inProcessCallers: CALLERS,
        inProcessTargetMet: ingestRate >= IN_PROCESS_TARGET,
        httpEventsPerSecond: Math.round(http.eventsPerSecond),
        httpTargetMet: http.eventsPerSecond >= HTTP_TARGET,
        httpEvents: http.events,
        httpConcurrency: http.concurrency,
        httpRequestBytesPerEvent: http.requestBytes / http.events,
        httpServerMaxRssBytes: http.serverMaxRssBytes,
      },
      store: {
        compacted: COMPACT,
        compactionEventsPerSecond: COMPACT ? Math.round(N / (compactMs / 1000)) : undefined,
        ingestedBytes,
        ingestedSegments,
        bytes: storeBytes,
        bytesPerEvent: storeBytes / N,
        segments,
      },
      duckdb: {
        tableLoadEventsPerSecond: Math.round(N / (load.tableMs / 1000)),
        parquetWriteEventsPerSecond: Math.round(N / (load.parquetMs / 1000)),
        parquetBytes: load.parquetBytes,
        loadThreads: 2,
      },
      exportCsvRowsPerSecond: Math.round(exportRate),
      exportCsvMiB: exportChars / 1024 ** 2,
      queries: results,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      coldProcessMaxRssBytes: coldMaxRss,
      phaseSeconds: phases,
      note: "cold = new process / fresh DuckDB instance; the OS page cache stays warm (files read from memory, not disk)",
      /** The issue's targets are set for this many events; the "target met" flags compare against them at any N. */
      targetsAtEvents: TARGET_EVENTS,
    };
    if (asJson) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    const mib = (b: number | undefined) => (b === undefined ? "?" : `${fmt(b / 1024 ** 2)} MiB`);
    const yes = (ok: boolean) => (ok ? "yes" : "no");
    console.log(`\nTally benchmark, ${fmt(N)} events — ${report.date}`);
    console.log(
      `Machine: ${report.machine.cpu}, ${report.machine.cores} cores; Node ${process.version}; DuckDB ${duckVersion}; 1-minute load average ${report.loadAverage.start.toFixed(1)} at start, ${report.loadAverage.end.toFixed(1)} at end`,
    );
    console.log(
      `Ingest in-process (1,000-event batches, ${CALLERS} concurrent caller${CALLERS > 1 ? "s" : ""}, fs store with fsync): ${fmt(ingestRate)} events/s (target ≥ 1,000,000: ${yes(report.ingest.inProcessTargetMet)})`,
    );
    console.log(
      `Ingest over HTTP (Connect binary, HTTP/1.1, 1,000-event batches, ${http.concurrency} senders, ${fmt(http.events)} events): ${fmt(http.eventsPerSecond)} events/s (target ≥ 200,000: ${yes(report.ingest.httpTargetMet)}); server peak RSS ${mib(http.serverMaxRssBytes)}`,
    );
    console.log(
      `Export of all ${fmt(N)} events as CSV: ${fmt(exportRate)} rows/s (${fmt(report.exportCsvMiB)} MiB)`,
    );
    console.log(
      `Store after ingest: ${mib(ingestedBytes)} in ${fmt(ingestedSegments)} segment files; ${COMPACT ? `compacted (${fmt(N / (compactMs / 1000))} events/s) to` : "not compacted:"} ${mib(storeBytes)} in ${fmt(segments)} files (${(storeBytes / N).toFixed(0)} B/event). Parquet ${mib(load.parquetBytes)}; DuckDB load ${fmt(report.duckdb.tableLoadEventsPerSecond)} events/s (2 threads, from TSV)`,
    );
    console.log(
      `\n| query | rows | Tally warm ms | DuckDB mem ms | warm ratio | Tally cold ms | DuckDB Parquet ms | cold ratio | target met? (warm ≤ ${WARM_TARGET}, cold ≤ ${COLD_TARGET}) | DuckDB mem ms, 2 threads | cold process peak RSS MiB |`,
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|");
    for (const r of results) {
      console.log(
        `| ${r.query}${r.inIssueSuite ? "" : " (extra)"} | ${r.answerRows} | ${r.tallyWarmMs.toFixed(1)} | ${r.duckMemMs.toFixed(1)} | ${r.warmRatio.toFixed(2)} | ${r.tallyColdMs.toFixed(1)} | ${r.duckParquetMs.toFixed(1)} | ${r.coldRatio.toFixed(2)} | warm ${yes(r.warmTargetMet)}, cold ${yes(r.coldTargetMet)} | ${r.duckMem2ThreadsMs.toFixed(1)} | ${fmt(r.tallyColdMaxRssBytes / 1024 ** 2)} |`,
      );
    }
    if (N !== TARGET_EVENTS)
      console.log(
        `\nThe targets are set for ${fmt(TARGET_EVENTS)} events. With ${fmt(N)}, the events are still spread over 181 days, one compacted segment a day: a cold query pays the same per-segment costs (a listing, a header, a first run of its code) for ${N < TARGET_EVENTS ? "fewer" : "more"} events, so cold ratios here say less about the targets (docs/performance.md).`,
      );
    console.log("\nSegments answered from rollups / by scanning rows (QuerySeries only):");
    for (const r of results) {
      if (r.segmentsFromRollups === undefined) continue;
      const target =
        r.rollupTargetMet === undefined
          ? ""
          : r.tallyWarmNoReuseMs === undefined
            ? `; warm ≤ ${ROLLUP_TARGET_MS} ms: no (meant for rollups, not answered by them alone)`
            : `; warm ≤ ${ROLLUP_TARGET_MS} ms: ${yes(r.rollupTargetMet)} (${r.tallyWarmMs.toFixed(1)} ms; counting every segment afresh, no counts reused: ${r.tallyWarmNoReuseMs.toFixed(1)} ms; its first run in the warm process, fetching its tables: ${r.tallyFirstMs.toFixed(1)} ms)`;
      console.log(`- ${r.query}: ${r.segmentsFromRollups} / ${r.segmentsScanned}${target}`);
    }
    console.log(
      `\nMedians of ${RUNS} warm runs (each side after untimed runs: at least ${WARMUP}, and more until those after the first took ${WARMUP_MS} ms, at most ${MAX_WARMUP_RUNS}; then a full garbage collection and 2 more) and ${COLD_RUNS} cold runs; DuckDB 1 thread unless noted. Every answer was checked equal to DuckDB's.`,
    );
    console.log(
      "Cold: a new process per run (Tally) and a fresh DuckDB instance per run (Parquet), only the query timed; the OS page cache stays warm.",
    );
    console.log(
      `Peak RSS: this process ${mib(report.maxRssBytes)} (Tally's warm cache and DuckDB's table together); cold Tally processes ${mib(coldMaxRss)}.`,
    );
    console.log(
      `Phases (s): ${Object.entries(phases)
        .map(([name, seconds]) => `${name} ${seconds}`)
        .join(", ")}.`,
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

await main();
