/**
 * The crash loop, shared by `test/crash-loop.test.ts` (≥ 50 lives) and the soak (≥ 200): a real server
 * process under concurrent ingest (Connect JSON and binary, four writers) is SIGKILLed at a seeded moment
 * and restarted, again and again — some lives while a Compact call is in flight, all with background
 * compaction every 100 ms. Requests cut off by a kill are unknown (maybe stored, maybe not) and are sent
 * again, with the same ids and times, in a later life.
 *
 * It checks: every acknowledged event is there, counted once (ListEvents lists each id once, QuerySeries
 * counts the same number); nothing is there that was never sent; no query during the loop failed with
 * anything but a cut connection; every segment on disk decodes (checksum included: no partial segment),
 * no segment was quarantined; and temp files a kill left behind are gone once the next server has started.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { RecordEventsRequestSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { prng } from "../scripts/bench-data.ts";
import { Segment } from "../store/segment.ts";
import { bundleServer, type ServerProcess, startServer } from "./server-process.ts";

export interface CrashLoopOptions {
  dir: string;
  lives: number;
  seed: number;
  /** Called after each life, for progress output. */
  progress?: (life: number, stats: CrashLoopResult) => void;
}

export interface CrashLoopResult {
  kills: number;
  killsDuringCompact: number;
  sent: number;
  acknowledged: number;
  found: number;
  retried: number;
  queriesAnswered: number;
  tempFilesLeftByKills: number;
  tempFilesRemaining: number;
  segmentsChecked: number;
}

const T0 = Date.UTC(2026, 6, 1);
const DAY = 86_400_000;
const MODULE = "mod-crash";
const SERVICE = "/telemetry.v1.TelemetryService";

interface Ev {
  id: string;
  time: number;
}

/** Every `.tmp-*` file under `dir`. */
function tempFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((p) =>
    p.split("/").pop()!.startsWith(".tmp-"),
  );
}

async function call(url: string, method: string, body: unknown, signal?: AbortSignal) {
  const res = await fetch(`${url}${SERVICE}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  const json = (await res.json()) as Record<string, unknown>;
  return { status: res.status, json };
}

async function record(url: string, events: Ev[], binary: boolean): Promise<void> {
  const wire = events.map((e) => ({ id: e.id, type: "t", data: { n: 1 } }));
  let res: Response;
  if (binary) {
    const message = create(RecordEventsRequestSchema, {
      module: MODULE,
      events: wire.map((w, i) => ({ id: w.id, type: w.type, time: timestampFromMs(events[i]!.time) })),
    });
    res = await fetch(`${url}${SERVICE}/RecordEvents`, {
      method: "POST",
      headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
      body: toBinary(RecordEventsRequestSchema, message),
    });
  } else {
    res = await fetch(`${url}${SERVICE}/RecordEvents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        module: MODULE,
        events: wire.map((w, i) => ({ ...w, time: new Date(events[i]!.time).toISOString() })),
      }),
    });
  }
  const text = await res.text();
  if (res.status !== 200) throw new Error(`RecordEvents answered ${res.status}: ${text}`);
}

const RANGE = { start: new Date(T0).toISOString(), end: new Date(T0 + 3 * DAY).toISOString() };

/** Every event id the server lists, in pages. */
async function listIds(url: string): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  do {
    const { status, json } = await call(url, "ListEvents", {
      module: MODULE,
      range: RANGE,
      pageSize: 1000,
      pageToken,
    });
    if (status !== 200) throw new Error(`ListEvents answered ${status}: ${JSON.stringify(json)}`);
    for (const e of json.events as { id: string }[]) ids.push(e.id);
    pageToken = json.nextPageToken as string;
  } while (pageToken);
  return ids;
}

async function countAll(url: string): Promise<number> {
  const { status, json } = await call(url, "QuerySeries", {
    module: MODULE,
    range: RANGE,
    interval: "INTERVAL_DAY",
  });
  if (status !== 200) throw new Error(`QuerySeries answered ${status}: ${JSON.stringify(json)}`);
  return (json.rows as { value: number }[]).reduce((n, r) => n + r.value, 0);
}

/** A failure a kill explains: the connection was cut. Anything else is a finding. */
function cutOff(error: unknown): boolean {
  const text = String((error as { cause?: unknown })?.cause ?? error);
  return /ECONNRESET|ECONNREFUSED|socket|fetch failed|other side closed|terminated|UND_ERR/i.test(
    text + String(error),
  );
}

export async function runCrashLoop(options: CrashLoopOptions): Promise<CrashLoopResult> {
  const random = prng(options.seed);
  const data = join(options.dir, "data");
  const config = join(options.dir, "tally.config.json");
  mkdirSync(options.dir, { recursive: true });
  writeFileSync(config, JSON.stringify({ compactionIntervalMs: 100 }));
  const entry = await bundleServer();
  const env = { DATA_DIR: data, TALLY_CONFIG: config, TALLY_SECRET: "crash-loop" };

  const sent = new Map<string, number>();
  const acked = new Set<string>();
  let unknown: Ev[] = [];
  let next = 0;
  const result: CrashLoopResult = {
    kills: 0,
    killsDuringCompact: 0,
    sent: 0,
    acknowledged: 0,
    found: 0,
    retried: 0,
    queriesAnswered: 0,
    tempFilesLeftByKills: 0,
    tempFilesRemaining: 0,
    segmentsChecked: 0,
  };
  const outputs: string[] = [];

  for (let life = 0; life < options.lives; life++) {
    const server: ServerProcess = await startServer(env, { entry });
    const { url } = server;
    let dying = false;
    let firstAck: number | undefined;
    // Four writers; the first sends the unknowns of earlier lives again, then new events.
    const retry = unknown;
    unknown = [];
    result.retried += retry.length;
    const writer = async (w: number) => {
      let queue = w === 0 ? [...retry] : [];
      let b = 0;
      while (!dying) {
        const events: Ev[] = queue.length > 0 ? queue.splice(0, 25) : [];
        while (events.length < 25) {
          const id = `e${next++}`;
          const time = T0 + Math.floor(random() * 3 * DAY);
          sent.set(id, time);
          events.push({ id, time });
        }
        try {
          await record(url, events, (w + b++) % 2 === 1);
          for (const e of events) acked.add(e.id);
          firstAck ??= Date.now();
        } catch (error) {
          if (!dying || !cutOff(error)) throw error;
          unknown.push(...events);
          queue = [];
        }
      }
      unknown.push(...queue);
    };
    const query = async () => {
      while (!dying) {
        try {
          await countAll(url);
          result.queriesAnswered++;
        } catch (error) {
          if (!dying || !cutOff(error)) throw error;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    let compacting = false;
    const compact = async () => {
      if (life % 3 !== 2) return;
      await new Promise((r) => setTimeout(r, 50 + random() * 100));
      compacting = true;
      try {
        const { status, json } = await call(url, "Compact", { module: MODULE });
        if (status !== 200) throw new Error(`Compact answered ${status}: ${JSON.stringify(json)}`);
      } catch (error) {
        if (!dying || !cutOff(error)) throw error;
      } finally {
        compacting = false;
      }
    };
    const work = Promise.all([writer(0), writer(1), writer(2), writer(3), query(), compact()]);
    // Kill at a seeded moment after the life's first acknowledgement (a fresh process on a busy machine
    // can take a while to answer at all; without this, late lives would be killed before any progress);
    // in compaction lives, as soon as the Compact call is in flight.
    const born = Date.now();
    const delay = 150 + random() * 450;
    const due = () => (firstAck ?? born + 5_000) + delay;
    while (Date.now() < due() && !(life % 3 === 2 && compacting && random() < 0.3)) {
      await new Promise((r) => setTimeout(r, 5));
    }
    dying = true;
    if (compacting) result.killsDuringCompact++;
    await server.kill();
    result.kills++;
    outputs.push(server.output());
    await work;
    result.tempFilesLeftByKills += tempFiles(data).length;
    options.progress?.(life, { ...result, sent: sent.size, acknowledged: acked.size });
  }

  // A last life, not killed: everything acknowledged is there, once; the kills' temp files are gone.
  const server = await startServer(env, { entry });
  try {
    for (let i = 0; i < unknown.length; i += 25) await record(server.url, unknown.slice(i, i + 25), false);
    for (const e of unknown) acked.add(e.id);
    const ids = await listIds(server.url);
    const unique = new Set(ids);
    if (unique.size !== ids.length) throw new Error(`${ids.length - unique.size} events are listed twice`);
    for (const id of acked) if (!unique.has(id)) throw new Error(`acknowledged event ${id} is missing`);
    for (const id of unique) if (!sent.has(id)) throw new Error(`event ${id} was never sent`);
    const counted = await countAll(server.url);
    if (counted !== unique.size) throw new Error(`QuerySeries counts ${counted}, ListEvents ${unique.size}`);
    result.found = unique.size;
    result.tempFilesRemaining = tempFiles(data).length;
    outputs.push(server.output());
  } finally {
    await server.stop();
  }
  const log = outputs.join("\n");
  if (/corrupt segment|unexpected error/.test(log)) throw new Error(`the server logged a problem:\n${log}`);
  for (const path of readdirSync(data, { recursive: true, encoding: "utf8" })) {
    const name = path.split("/").pop()!;
    if (name.endsWith(".quarantined")) throw new Error(`a segment was quarantined: ${path}`);
    if (/^[a-z0-9]{23}$/.test(name) && path.includes("/ev/")) {
      new Segment(readFileSync(join(data, path)), path); // throws data_loss on a partial segment
      result.segmentsChecked++;
    }
  }
  return { ...result, sent: sent.size, acknowledged: acked.size };
}
