/**
 * HTTP ingest for scripts/bench.ts: a real server (`npm start`'s functions/node.ts, in a child process
 * over a temporary DATA_DIR) receives RecordEvents over Connect, binary, HTTP/1.1, in 1,000-event batches.
 *
 * Batches are encoded before the clock starts and sent by several concurrent senders over keep-alive
 * connections, so the rate is what the server sustains, not what a client's encoder manages. One batch
 * is first sent through @connectrpc/connect-node's own client, to check the wire format.
 */

import { readFileSync } from "node:fs";
import http from "node:http";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  RecordEventsRequestSchema,
  RecordEventsResponseSchema,
  TelemetryService,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import type { StoredEvent } from "../store/json.ts";
import { startServer } from "../test/server-process.ts";
import { toEventInit } from "./bench-data.ts";

export function encodeBatch(module: string, events: readonly StoredEvent[]): Uint8Array {
  return toBinary(RecordEventsRequestSchema, requestOf(module, events));
}

function requestOf(module: string, events: readonly StoredEvent[]) {
  return create(RecordEventsRequestSchema, {
    module,
    events: events.map(toEventInit),
  });
}

export interface HttpIngestResult {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  concurrency: number;
  requestBytes: number;
  /** The server process's peak RSS (Linux: VmHWM), when it can be read. */
  serverMaxRssBytes: number | undefined;
}

/** Starts a server over `dataDir`, checks the protocol with one client call, then times the batches. */
export async function httpIngest(
  dataDir: string,
  module: string,
  batches: readonly { bytes: Uint8Array; count: number }[],
  check: readonly StoredEvent[],
  concurrency = 4,
): Promise<HttpIngestResult> {
  const server = await startServer({ DATA_DIR: dataDir });
  try {
    const client = createClient(
      TelemetryService,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", useBinaryFormat: true }),
    );
    const checked = await client.recordEvents(requestOf(`${module}-check`, check));
    if (checked.accepted !== check.length)
      throw new Error(`HTTP check: ${checked.accepted} of ${check.length} events accepted`);

    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const url = new URL("/telemetry.v1.TelemetryService/RecordEvents", server.url);
    const post = (body: Uint8Array) =>
      new Promise<Uint8Array>((resolve, reject) => {
        const req = http.request(
          url,
          {
            method: "POST",
            agent,
            headers: {
              "content-type": "application/proto",
              "connect-protocol-version": "1",
              "content-length": body.byteLength,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              const out = Buffer.concat(chunks);
              if (res.statusCode !== 200)
                reject(
                  new Error(`HTTP ingest: status ${res.statusCode}: ${out.toString("utf8").slice(0, 300)}`),
                );
              else resolve(new Uint8Array(out));
            });
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(body);
      });

    let next = 0;
    let accepted = 0;
    let requestBytes = 0;
    const sender = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        requestBytes += batch.bytes.byteLength;
        const res = fromBinary(RecordEventsResponseSchema, await post(batch.bytes));
        accepted += res.accepted;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, sender));
    const seconds = (performance.now() - t0) / 1000;
    agent.destroy();
    const events = batches.reduce((n, b) => n + b.count, 0);
    if (accepted !== events)
      throw new Error(`HTTP ingest: the server accepted ${accepted} of ${events} events`);
    return {
      events,
      seconds,
      eventsPerSecond: events / seconds,
      concurrency,
      requestBytes,
      serverMaxRssBytes: peakRss(server.child.pid),
    };
  } finally {
    await server.stop();
  }
}

function peakRss(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
