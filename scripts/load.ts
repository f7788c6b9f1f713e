/**
 * `npm run load [-- --rate 200 --batch 100 --seconds 60]`: sustained load against a real server on
 * loopback (a child process, bundled functions/node.ts, a temporary DATA_DIR), bounded in time, with
 * autocannon sending RecordEvents batches in Connect binary (each batch new events), four phases:
 *
 *   warm-up → sustained (the rate held: events/s, p50/p99, errors, RSS and open fds sampled)
 *   → overload at twice the rate (the per-key rate limit, set 50 % above the rate, must answer the
 *   excess quickly with resource_exhausted / HTTP 429) → recovery at the rate (errors must stop).
 *
 * `runLoad` is also what test/load.test.ts (short) and scripts/soak.ts (long) call.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import autocannon from "autocannon";
import { isEntry } from "../functions/is-entry.ts";
import { RecordEventsRequestSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { bundleServer, startServer } from "../test/server-process.ts";

export interface LoadOptions {
  /** Requests per second held (each a batch). */
  rate: number;
  /** Events per request. */
  batch: number;
  /** Seconds of the sustained phase; overload and recovery take a third of it each (at least 3 s). */
  seconds: number;
  connections?: number;
  /** The server's `cacheBytes` (default: the server's own, 256 MiB). */
  cacheBytes?: number;
  /** The server's `idIndexBytes` (default: the server's own, 64 MiB; small values exercise the search path). */
  idIndexBytes?: number;
  log?: (line: string) => void;
}

export interface PhaseResult {
  seconds: number;
  requests: number;
  ok: number;
  /** HTTP 429, resource_exhausted. */
  limited: number;
  /** Anything else: other statuses, connection errors, timeouts. */
  errors: number;
  eventsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  rate: number;
  batch: number;
  sustained: PhaseResult;
  overload: PhaseResult;
  /** resource_exhausted answers timed one by one during the overload: how quick they are (ms). */
  limitedAnswers: { count: number; p50: number; max: number; retryAfterMs: number; failures: string[] };
  recovery: PhaseResult;
  /** Server RSS (MiB) and open fds, sampled every 500 ms over sustained, overload and recovery. */
  rssMiB: { start: number; end: number; min: number; max: number };
  /** Server RSS (MiB) at every tenth of the samples: whether it levels off or keeps growing. */
  rssTenthsMiB: number[];
  fds: { start: number; end: number; min: number; max: number };
  eventsStored: number;
}

const KEY = "load-test-key";
const MODULE = "mod-load";

function sample(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return {
    rss: Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024,
    fds: readdirSync(`/proc/${pid}/fd`).length,
  };
}

function span(values: number[]) {
  return {
    start: values[0] ?? 0,
    end: values[values.length - 1] ?? 0,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), "tally-load-"));
  // Headroom over the rate held: autocannon overshoots a fixed rate by up to ~20 %.
  const limit = Math.ceil(options.rate * 1.5);
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      keys: [
        {
          name: "load",
          hash: createHash("sha256").update(KEY).digest("hex"),
          tenant: "load",
          scopes: ["ingest", "read"],
        },
      ],
      limits: { requestsPerSecond: limit, requestBurst: limit },
      ...(options.cacheBytes ? { cacheBytes: options.cacheBytes } : {}),
      ...(options.idIndexBytes ? { idIndexBytes: options.idIndexBytes } : {}),
    }),
  );
  const server = await startServer(
    { DATA_DIR: join(dir, "data"), TALLY_CONFIG: join(dir, "config.json"), TALLY_SECRET: "load" },
    { entry: await bundleServer() },
  );
  const pid = server.child.pid!;
  const samples: { rss: number; fds: number }[] = [];
  let next = 0;
  const T0 = Date.UTC(2026, 8, 1);
  const body = () => {
    const events = [];
    for (let i = 0; i < options.batch; i++) {
      const n = next++;
      events.push({
        id: `e${n}`,
        type: n % 3 ? "enrolled" : "unenrolled",
        time: timestampFromMs(T0 + (n % 86_400_000)),
        data: { org: `org-${n % 17}`, userId: `u-${n % 5000}`, n },
      });
    }
    return Buffer.from(
      toBinary(RecordEventsRequestSchema, create(RecordEventsRequestSchema, { module: MODULE, events })),
    );
  };
  const phase = (rate: number, seconds: number, connections: number) =>
    new Promise<PhaseResult>((resolve, reject) => {
      autocannon(
        {
          url: `${server.url}/telemetry.v1.TelemetryService/RecordEvents`,
          method: "POST",
          headers: {
            "content-type": "application/proto",
            "connect-protocol-version": "1",
            authorization: `Bearer ${KEY}`,
          },
          connections,
          overallRate: rate,
          duration: seconds,
          timeout: 10,
          requests: [
            {
              setupRequest: (req: Record<string, unknown>) => ({ ...req, body: body() }),
            },
          ],
        },
        (error: Error | null, r: autocannon.Result) => {
          if (error) return reject(error);
          const codes = r.statusCodeStats;
          const ok = Number(codes["200"]?.count ?? 0);
          const limited = Number(codes["429"]?.count ?? 0);
          const total = r.requests.total;
          resolve({
            seconds,
            requests: total,
            ok,
            limited,
            errors: total - ok - limited + r.errors + r.timeouts,
            eventsPerSecond: Math.round((ok * options.batch) / seconds),
            p50: r.latency.p50,
            p99: r.latency.p99,
            max: r.latency.max,
          });
        },
      );
    });
  // Each write waits for two fsyncs (file and directory), so the rate needs many requests in flight.
  // autocannon splits the rate over the connections in whole requests per second, rounding up: a rate
  // the connections divide is held exactly (20 over 8 would be 24).
  const connections = divisor(options.rate, options.connections ?? 32);
  try {
    log(`warm-up: 2 s at ${options.rate} req/s`);
    await phase(options.rate, 2, connections);
    await new Promise((r) => setTimeout(r, 1_500)); // the key's bucket refills
    const timer = setInterval(() => samples.push(sample(pid)), 500);
    samples.push(sample(pid));
    try {
      log(`sustained: ${options.seconds} s at ${options.rate} req/s × ${options.batch} events`);
      const sustained = await phase(options.rate, options.seconds, connections);
      log(`  ${JSON.stringify(sustained)}`);
      const other = Math.max(3, Math.round(options.seconds / 3));
      log(`overload: ${other} s at ${options.rate * 2} req/s (limit ${limit}/s per key)`);
      const probe = probeLimited(server.url, body, other * 1000);
      const overload = await phase(options.rate * 2, other, divisor(options.rate * 2, connections * 3));
      const limitedAnswers = await probe;
      log(
        `  ${JSON.stringify(overload)}; limited answers seen by a probe: ${JSON.stringify(limitedAnswers)}`,
      );
      await new Promise((r) => setTimeout(r, 1_500)); // the key's bucket refills
      log(`recovery: ${other} s at ${options.rate} req/s`);
      const recovery = await phase(options.rate, other, connections);
      log(`  ${JSON.stringify(recovery)}`);
      samples.push(sample(pid));
      const count = await fetch(`${server.url}/telemetry.v1.TelemetryService/QuerySeries`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
        body: JSON.stringify({
          module: MODULE,
          range: { start: new Date(T0).toISOString(), end: new Date(T0 + 86_400_000).toISOString() },
          interval: "INTERVAL_DAY",
        }),
      });
      const rows = ((await count.json()) as { rows: { value: number }[] }).rows;
      return {
        rate: options.rate,
        batch: options.batch,
        sustained,
        overload,
        limitedAnswers,
        recovery,
        rssMiB: span(samples.map((s) => Math.round(s.rss))),
        rssTenthsMiB: Array.from({ length: 10 }, (_, i) =>
          Math.round(samples[Math.min(samples.length - 1, Math.floor(((i + 1) * samples.length) / 10))]!.rss),
        ),
        fds: span(samples.map((s) => s.fds)),
        eventsStored: rows.reduce((n, r) => n + r.value, 0),
      };
    } finally {
      clearInterval(timer);
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Sends one request at a time during the overload and times those answered 429. */
async function probeLimited(url: string, body: () => Buffer, ms: number) {
  const times: number[] = [];
  /** Connection failures the probe met (the phase's own count autocannon's errors). */
  const failures: string[] = [];
  let retryAfterMs = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t = performance.now();
    const res = await fetch(`${url}/telemetry.v1.TelemetryService/RecordEvents`, {
      method: "POST",
      headers: {
        "content-type": "application/proto",
        "connect-protocol-version": "1",
        authorization: `Bearer ${KEY}`,
      },
      body: new Uint8Array(body()),
    }).catch((error: unknown) => {
      failures.push(String((error as { cause?: unknown }).cause ?? error));
      return undefined;
    });
    await res?.arrayBuffer();
    if (res?.status === 429) {
      times.push(performance.now() - t);
      retryAfterMs = Math.max(retryAfterMs, Number(res.headers.get("tally-retry-after-ms")));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  times.sort((a, b) => a - b);
  return {
    count: times.length,
    p50: Math.round(times[Math.floor(times.length / 2)] ?? 0),
    max: Math.round(times[times.length - 1] ?? 0),
    retryAfterMs,
    failures,
  };
}

/** The largest divisor of `n` that is at most `max`. */
function divisor(n: number, max: number): number {
  for (let d = Math.min(n, max); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

if (isEntry(import.meta.url)) {
  const result = await runLoad({
    rate: flag("rate", 200),
    batch: flag("batch", 100),
    seconds: flag("seconds", 60),
    cacheBytes: flag("cache-bytes", 0),
    idIndexBytes: flag("id-index-bytes", 0),
    log: (line) => console.log(line),
  });
  console.log(JSON.stringify(result, null, 2));
}
