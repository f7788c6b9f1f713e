/**
 * The injected-storage-fault scenario, shared by `test/storage-faults.test.ts` (short) and the soak (long):
 * concurrent RecordEvents batches (with retries of earlier events, across three days), queries, paged
 * listings and compactions through the real Connect router, over a storage whose driver fails reads,
 * writes, listings and removals with EIO, ENOSPC or timeouts at seeded points.
 *
 * What it checks, every round: a call either succeeds or fails with `unavailable` / `resource_exhausted`
 * (nothing else); a query that answers gives exactly what the same query gives on the same data without
 * faults (through a fresh store, so no cache can hide a wrong answer); everything acknowledged so far is
 * counted. At the end, with faults off: every acknowledged event is listed, each once, and nothing listed
 * was never sent.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { createStorage, type Driver } from "unstorage";
import { routerOptions, routes } from "../functions/routes.ts";
import { testDeps } from "../functions/test-deps.ts";
import { AggregationFunction, Interval, TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { prng } from "../scripts/bench-data.ts";
import { type FaultControl, faultyDriver } from "../storage-drivers/faulty.ts";

export interface FaultRunOptions {
  seed: number;
  rounds: number;
  /** The driver under the faults (memory, or the filesystem driver on a temp directory). */
  base: Driver;
  /** Chance of a fault per operation. */
  rate?: number;
}

export interface FaultRunResult {
  rounds: number;
  sent: number;
  acknowledged: number;
  found: number;
  writesFailed: number;
  queriesAnswered: number;
  queriesFailed: number;
  compactionsFailed: number;
  faults: FaultControl["injected"];
}

const T0 = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;
const MODULE = "mod-faults";
const RANGE = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 3 * DAY) };
/** The only codes a storage fault may surface as. */
const STORAGE_CODES = new Set([Code.Unavailable, Code.ResourceExhausted]);

function clientOf(deps: ReturnType<typeof testDeps>) {
  const transport = createRouterTransport((router) => routes(router, deps), { router: routerOptions(deps) });
  return createClient(TelemetryService, transport);
}

/** Queries "either answer correctly or fail with `unavailable`" (issue #7): they write nothing to fill a disk. */
const QUERY_CODES = new Set([Code.Unavailable]);

/** The code of a failed call, checked to be one a storage fault may give. */
function storageCode(error: unknown, what: string, allowed = STORAGE_CODES): Code {
  const code = ConnectError.from(error).code;
  if (!allowed.has(code)) {
    throw new Error(
      `${what} failed with ${Code[code]}, not ${[...allowed].map((c) => Code[c]).join("/")}: ${String(error)}`,
    );
  }
  return code;
}

export async function runFaultScenario(options: FaultRunOptions): Promise<FaultRunResult> {
  const random = prng(options.seed);
  const rate = options.rate ?? 0.08;
  const driver = faultyDriver({
    driver: options.base,
    seed: options.seed,
    rate: { read: rate, write: rate * 1.5, list: rate, remove: rate * 1.5 },
    timeoutMs: 2,
  });
  const faulty = clientOf(testDeps({ storage: createStorage({ driver }) }));
  const clean = createStorage({ driver: options.base });
  /** A client over the same data without faults and with an empty cache: the truth of the moment. */
  const truth = () => clientOf(testDeps({ storage: clean }));

  const sent = new Map<string, number>();
  const acked = new Set<string>();
  const result = {
    rounds: options.rounds,
    writesFailed: 0,
    queriesAnswered: 0,
    queriesFailed: 0,
    compactionsFailed: 0,
  };
  let next = 0;

  const batch = () => {
    const events = [];
    const size = 1 + Math.floor(random() * 20);
    for (let i = 0; i < size; i++) {
      const ids = [...sent.keys()];
      // A third are retries of events sent before (acknowledged or not): they must count once.
      const retry = ids.length > 0 && random() < 0.33;
      const id = retry ? ids[Math.floor(random() * ids.length)]! : `e${next++}`;
      const time = sent.get(id) ?? T0 + Math.floor(random() * 3 * DAY);
      sent.set(id, time);
      events.push({ id, type: random() < 0.5 ? "a" : "b", time: timestampFromMs(time), data: { n: 1 } });
    }
    return events;
  };

  const series = {
    module: MODULE,
    range: RANGE,
    interval: Interval.DAY,
    groupBy: ["type"],
    aggregation: { function: AggregationFunction.SUM, field: "n" },
  };
  const total = (rows: { value: number }[]) => rows.reduce((n, r) => n + r.value, 0);
  const same = (rows: { bucketStart?: { seconds: bigint }; group: string[]; value: number }[]) =>
    JSON.stringify(rows.map((r) => [String(r.bucketStart?.seconds), r.group, r.value]));

  for (let round = 0; round < options.rounds; round++) {
    const batches = Array.from({ length: 1 + Math.floor(random() * 4) }, batch);
    const outcomes = await Promise.allSettled(
      batches.map((events) => faulty.recordEvents({ module: MODULE, events })),
    );
    outcomes.forEach((o, i) => {
      if (o.status === "fulfilled") {
        for (const e of batches[i]!) acked.add(e.id);
      } else {
        storageCode(o.reason, "RecordEvents");
        result.writesFailed++;
      }
    });

    if (round % 10 === 9) {
      await faulty.compact({ module: MODULE }).catch((e: unknown) => {
        storageCode(e, "Compact");
        result.compactionsFailed++;
      });
    }

    const answer = await faulty.querySeries(series).then(
      (r) => r,
      (e: unknown) => {
        storageCode(e, "QuerySeries", QUERY_CODES);
        return undefined;
      },
    );
    const expected = await truth().querySeries(series);
    if (answer) {
      result.queriesAnswered++;
      if (same(answer.rows) !== same(expected.rows)) {
        throw new Error(
          `round ${round}: QuerySeries answered wrong numbers under faults: ${same(answer.rows)} != ${same(expected.rows)}`,
        );
      }
    } else result.queriesFailed++;
    if (total(expected.rows) < acked.size) {
      throw new Error(`round ${round}: ${acked.size} acknowledged, only ${total(expected.rows)} counted`);
    }

    if (round % 5 === 4) {
      // A paged listing under faults: whole and right, or a storage code.
      const listed = await listAll(faulty, 50).catch((e: unknown) => {
        storageCode(e, "ListEvents", QUERY_CODES);
        return undefined;
      });
      if (listed) {
        result.queriesAnswered++;
        const real = await listAll(truth(), 50);
        if (JSON.stringify(listed) !== JSON.stringify(real)) {
          throw new Error(`round ${round}: ListEvents answered wrong events under faults`);
        }
      } else result.queriesFailed++;
    }
  }

  driver.faults.enabled = false;
  const listed = await listAll(truth(), 1000);
  const ids = listed.map((e) => e.id);
  const unique = new Set(ids);
  if (unique.size !== ids.length) throw new Error("an event is listed twice");
  for (const id of acked) if (!unique.has(id)) throw new Error(`acknowledged event ${id} is missing`);
  for (const id of unique) if (!sent.has(id)) throw new Error(`event ${id} was never sent`);
  const counted = total((await truth().querySeries(series)).rows);
  if (counted !== unique.size)
    throw new Error(`QuerySeries counts ${counted}, ListEvents lists ${unique.size}`);
  return {
    ...result,
    sent: sent.size,
    acknowledged: acked.size,
    found: unique.size,
    faults: { ...driver.faults.injected },
  };
}

async function listAll(client: ReturnType<typeof clientOf>, pageSize: number) {
  const out: { id: string; time: string }[] = [];
  let pageToken = "";
  do {
    const page = await client.listEvents({ module: MODULE, range: RANGE, pageSize, pageToken });
    for (const e of page.events) out.push({ id: e.id, time: String(e.time?.seconds) });
    pageToken = page.nextPageToken;
  } while (pageToken);
  return out;
}
