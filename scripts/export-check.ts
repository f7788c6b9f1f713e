/**
 * `npm run export-check [-- --events 1000000]`: the end-to-end export check. Starts a real server,
 * records N events over HTTP (Connect binary, 1,000-event batches), exports them all through the
 * ExportCsv RPC and through a download link, parses both with a real CSV parser and checks every row
 * against what was recorded. Prints rows/s of each path, and the server's RSS before, at every tenth of
 * each export (flat: an export holds one day's matches, not the answer) and its peak after.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { parse } from "csv-parse";
import { TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { startServer } from "../test/server-process.ts";
import { generateEvents, toEventInit } from "./bench-data.ts";

const args = process.argv.slice(2);
const N = Number(args[args.indexOf("--events") + 1] || 1_000_000);
const START = Date.UTC(2026, 0, 1);
const END = Date.UTC(2026, 6, 1);

function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;

/** Parses CSV text chunks as they come and checks each row against the recorded events. */
async function check(
  chunks: AsyncIterable<Uint8Array | string>,
  expected: ReturnType<typeof generateEvents>,
  /** Called at every tenth of the rows: the export's memory is sampled as it runs. */
  onTenth: () => void = () => {},
) {
  const tenth = Math.max(1, Math.floor(expected.length / 10));
  const parser = parse({ bom: true, relax_quotes: false });
  let header: string[] | undefined;
  let i = 0;
  const done = (async () => {
    for await (const row of parser as AsyncIterable<string[]>) {
      if (!header) {
        header = row;
        continue;
      }
      const e = expected[i++]!;
      if (i % tenth === 0) onTenth();
      const cell = (name: string) => row[header!.indexOf(name)];
      if (cell("id") !== e.id || cell("type") !== e.type || cell("time") !== new Date(e.time).toISOString()) {
        throw new Error(`row ${i}: ${row.slice(0, 3).join(",")} is not ${e.id},${e.type}`);
      }
      if (cell("lat") !== (Number.isNaN(e.lat) ? "" : String(e.lat)) || cell("userId") !== e.data.userId) {
        throw new Error(`row ${i}: location or userId differs`);
      }
    }
  })();
  for await (const chunk of chunks)
    if (!parser.write(chunk)) await new Promise((r) => parser.once("drain", r));
  parser.end();
  await done;
  if (i !== expected.length) throw new Error(`parsed ${i} rows, expected ${expected.length}`);
  return i;
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "tally-export-"));
  const server = await startServer({ DATA_DIR: dataDir });
  try {
    const pid = server.child.pid!;
    const client = createClient(
      TelemetryService,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", useBinaryFormat: true }),
    );
    // Both modules' event shapes, all into one store, so that N events are exported.
    const events = generateEvents(N, { start: START, end: END });
    console.log(`Recording ${events.length.toLocaleString("en")} events over HTTP…`);
    const r0 = performance.now();
    for (let i = 0; i < events.length; i += 1000) {
      await client.recordEvents({
        module: "export-check",
        events: events.slice(i, i + 1000).map(toEventInit),
      });
    }
    console.log(
      `  ${Math.round(events.length / ((performance.now() - r0) / 1000)).toLocaleString("en")} events/s`,
    );
    const before = memory(pid);
    const request = {
      query: {
        case: "events" as const,
        value: {
          module: "export-check",
          range: { start: timestampFromMs(START), end: timestampFromMs(END) },
        },
      },
    };
    const rpcRss: number[] = [];
    const t0 = performance.now();
    const rows = await check(
      (async function* () {
        for await (const res of client.exportCsv(request)) yield res.data;
      })(),
      events,
      () => rpcRss.push(memory(pid).rss),
    );
    const rpcSeconds = (performance.now() - t0) / 1000;
    const afterRpc = memory(pid);
    const link = await client.createExportLink(request);
    const t1 = performance.now();
    const res = await fetch(`${server.url}${link.url}`, { headers: { "accept-encoding": "gzip" } });
    if (!res.ok || !res.body) throw new Error(`link answered ${res.status}`);
    const linkRss: number[] = [];
    await check(res.body as unknown as AsyncIterable<Uint8Array>, events, () =>
      linkRss.push(memory(pid).rss),
    );
    const linkSeconds = (performance.now() - t1) / 1000;
    const afterLink = memory(pid);
    console.log(
      `ExportCsv RPC: ${rows.toLocaleString("en")} rows, all equal, ${Math.round(rows / rpcSeconds).toLocaleString("en")} rows/s`,
    );
    console.log(
      `Export link (gzip): ${rows.toLocaleString("en")} rows, all equal, ${Math.round(rows / linkSeconds).toLocaleString("en")} rows/s`,
    );
    const series = (values: number[]) => values.map((v) => (v / 1024 ** 2).toFixed(0)).join(", ");
    console.log(`Server RSS (MiB) at each tenth of the RPC export: ${series(rpcRss)}`);
    console.log(`Server RSS (MiB) at each tenth of the link export: ${series(linkRss)}`);
    console.log(
      `Server RSS: ${mib(before.rss)} before exporting; ${mib(afterRpc.rss)} after the RPC, ${mib(afterLink.rss)} after the link; peak ${mib(afterLink.peak)} (peak before exporting ${mib(before.peak)})`,
    );
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
