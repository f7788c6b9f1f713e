/**
 * The Node server's segment encoder: lists of prepared events (RecordEvents decoded from the wire) are
 * encoded in a worker thread, so that on a machine with a second core, encoding one group overlaps
 * decoding and checking the next requests. Other lists (events with JS object data: the JSON forms,
 * in-process callers) and small ones are encoded in the calling thread, as the store does by default.
 * Compaction's merges (`mergeSegments`) run there too: the background compactor would otherwise hold the
 * server's requests while it decodes and encodes tens of thousands of events.
 *
 * The worker runs this module's own code (`serveEncoder`), loaded from this module's URL — the source
 * under tsx, or whatever bundle it is part of. A worker that dies fails the encodes it held (their
 * records fail as unavailable, storing nothing) and is replaced at the next one.
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { useCrc32 } from "../store/crc32.ts";
import { TallyError } from "../store/errors.ts";
import type { StoredEvent } from "../store/json.ts";
import { encodeSegment } from "../store/segment-encode.ts";
import {
  INLINE_ENCODER,
  type Merged,
  mergeSegments,
  type PackedEvents,
  packedBuffers,
  packPrepared,
  type SegmentEncoder,
  unpackPrepared,
} from "../store/segment-encoder.ts";
import { nodeCrc32 } from "./node-crc32.ts";
import { nodeInflate } from "./node-inflate.ts";

/** Marks a worker started by this module (workerData). */
const ROLE = "tally-segment-encoder";
/** Lists shorter than this are encoded in the calling thread: a round trip costs more than they do. */
const MIN_WORKER_EVENTS = 256;

type Request = { id: number } & (
  | { events: PackedEvents; ingestedAt: number }
  | {
      merge: {
        inputs: readonly Uint8Array[];
        masks: readonly (Uint8Array | null)[];
        ingestedAt: number;
        supersedes: string[];
      };
    }
);
type Reply =
  | { id: number; bytes: Uint8Array }
  | { id: number; merged: Merged }
  | { id: number; error: string };

export class WorkerEncoder implements SegmentEncoder {
  private worker: Worker | undefined;
  private readonly pending = new Map<
    number,
    { worker: Worker; resolve: (reply: Reply) => void; reject: (e: Error) => void }
  >();
  private next = 0;

  constructor(private readonly moduleUrl: URL = new URL(import.meta.url)) {}

  encode(events: readonly StoredEvent[], ingestedAt: number) {
    const packed = events.length >= MIN_WORKER_EVENTS ? packPrepared(events) : undefined;
    if (!packed) return INLINE_ENCODER.encode(events, ingestedAt);
    return this.send({ id: this.next++, events: packed, ingestedAt }, packedBuffers(packed)).then(
      (reply) => (reply as { bytes: Uint8Array }).bytes,
    );
  }

  merge(
    inputs: readonly Uint8Array[],
    masks: readonly (Uint8Array | null)[],
    ingestedAt: number,
    supersedes: string[],
  ): Promise<Merged> {
    // Copied, not transferred: the inputs are the caller's (read for this merge, but its to keep).
    return this.send({ id: this.next++, merge: { inputs, masks, ingestedAt, supersedes } }, []).then(
      (reply) => (reply as { merged: Merged }).merged,
    );
  }

  private send(request: Request, transfer: ArrayBuffer[]): Promise<Reply> {
    const worker = this.start();
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(request.id, { worker, resolve, reject });
      worker.ref();
      worker.postMessage(request, transfer);
    });
  }

  /** Stops the worker; encodes still held fail. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) {
      this.fail(worker, new TallyError("unavailable", "the segment encoder was closed"));
      await worker.terminate();
    }
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const url = this.moduleUrl.href;
    // Under tsx the worker must register its loader before it can import TypeScript.
    // (tsx found from here: the worker's eval'd code would look from the working directory.)
    const code = url.endsWith(".ts")
      ? `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url)}); })`
      : `import(${JSON.stringify(url)})`;
    const worker = new Worker(code, { eval: true, workerData: { role: ROLE } });
    // An idle encoder must not keep the process alive; one with work pending does (ref'd while busy).
    worker.unref();
    worker.on("message", (reply: Reply) => {
      const waiting = this.pending.get(reply.id);
      if (waiting) {
        this.pending.delete(reply.id);
        if ("error" in reply)
          waiting.reject(new TallyError("unavailable", `segment encoder: ${reply.error}`));
        else waiting.resolve(reply);
      }
      if (![...this.pending.values()].some((p) => p.worker === worker)) worker.unref();
    });
    // Only this worker's encodes fail with it: a replacement may already be at work.
    const lost = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      this.fail(worker, error);
    };
    worker.on("error", (error) => lost(new TallyError("unavailable", `segment encoder: ${error.message}`)));
    worker.on("exit", (code) =>
      lost(new TallyError("unavailable", `the segment encoder stopped (exit code ${code})`)),
    );
    this.worker = worker;
    return worker;
  }

  private fail(worker: Worker, error: Error): void {
    for (const [id, waiting] of this.pending) {
      if (waiting.worker !== worker) continue;
      this.pending.delete(id);
      waiting.reject(error);
    }
  }
}

/** The worker's side: encodes what it is sent, with node:zlib's CRC-32 as the server's store uses. */
function serveEncoder(): void {
  useCrc32(nodeCrc32);
  const port = parentPort!;
  port.on("message", (request: Request) => {
    const { id } = request;
    let reply: Reply;
    try {
      if ("merge" in request) {
        const { inputs, masks, ingestedAt, supersedes } = request.merge;
        const merged = mergeSegments(inputs, masks, ingestedAt, supersedes, nodeInflate);
        reply = { id, merged };
        port.postMessage(reply, [
          merged.bytes.buffer as ArrayBuffer,
          merged.idEnd.buffer as ArrayBuffer,
          merged.times.buffer as ArrayBuffer,
        ]);
        return;
      }
      const bytes = encodeSegment(unpackPrepared(request.events), request.ingestedAt);
      reply = { id, bytes };
      port.postMessage(reply, [bytes.buffer as ArrayBuffer]);
    } catch (error) {
      reply = { id, error: error instanceof Error ? error.message : String(error) };
      port.postMessage(reply);
    }
  });
}

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === ROLE) serveEncoder();
