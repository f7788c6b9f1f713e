/**
 * The Worker bundle (what `npm run build:worker` writes and wrangler deploys) in Miniflare, i.e. in workerd
 * with a real R2 binding, for the suites that run on both runtimes. One Miniflare per test file: workerd
 * takes a few seconds to start.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { Miniflare } from "miniflare";
import { buildWorker, wranglerCompatibility } from "../scripts/build-worker.ts";

export interface WorkerOptions {
  /** Bindings besides TALLY_BUCKET and STEPS; TALLY_SECRET has a test default. */
  bindings?: Record<string, string>;
  /** A directory to persist R2 in (default: in memory). */
  r2Persist?: string;
}

export interface TestWorker {
  mf: Miniflare;
  /** fetch into the Worker, as a client on the network would. */
  fetch: (url: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** A connect-web transport over `fetch`: the Connect protocol, or gRPC-web. */
  transport(protocol: "connect" | "grpc-web", options?: { binary?: boolean; key?: string }): Transport;
  /** Restarts the Worker with these bindings instead (TALLY_SECRET defaults as before). */
  rebind(bindings: Record<string, string>): Promise<void>;
  dispose(): Promise<void>;
}

let bundle: Promise<string> | undefined;

/** Builds the bundle once per test process, into a temp directory (so a test never reads a stale dist/). */
export function workerBundle(): Promise<string> {
  bundle ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "tally-worker-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "worker.js");
    await buildWorker(file);
    return file;
  })();
  return bundle;
}

export const BASE_URL = "http://tally.test";

/**
 * The response as a client's fetch shows it. dispatchFetch decodes `content-encoding` (undici's fetch does,
 * like a browser's) but then renames the header to `MF-Content-Encoding`; a browser keeps it visible.
 */
function asClientSees(res: Response): Response {
  const encoding = res.headers.get("mf-content-encoding");
  if (encoding === null) return res;
  const headers = new Headers(res.headers);
  headers.delete("mf-content-encoding");
  headers.set("content-encoding", encoding);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

export async function startWorker(options: WorkerOptions = {}): Promise<TestWorker> {
  const scriptPath = await workerBundle();
  const mfOptions = (bindings: Record<string, string> = {}) => ({
    name: "tally",
    modules: true,
    scriptPath,
    // Module names are paths relative to this; the default (the working directory) cannot reach /tmp.
    modulesRoot: dirname(scriptPath),
    // Do not fetch Cloudflare's `request.cf` sample from the network.
    cf: false,
    ...wranglerCompatibility(),
    r2Buckets: ["TALLY_BUCKET"],
    ...(options.r2Persist ? { r2Persist: options.r2Persist } : {}),
    durableObjects: { STEPS: "QueryStep" },
    bindings: { TALLY_SECRET: "test secret, not for production", ...bindings },
  });
  const mf = new Miniflare(mfOptions(options.bindings));
  await mf.ready;
  const fetch = (async (url: string | URL | Request, init?: RequestInit) =>
    asClientSees(
      (await mf.dispatchFetch(url as never, init as never)) as unknown as Response,
    )) as TestWorker["fetch"];
  return {
    mf,
    fetch,
    transport(protocol, transportOptions = {}) {
      const make = protocol === "connect" ? createConnectTransport : createGrpcWebTransport;
      return make({
        baseUrl: BASE_URL,
        fetch,
        useBinaryFormat: transportOptions.binary ?? protocol !== "connect",
        interceptors: transportOptions.key
          ? [
              (next) => (req) => {
                req.header.set("authorization", `Bearer ${transportOptions.key}`);
                return next(req);
              },
            ]
          : [],
      });
    },
    rebind: (bindings) => mf.setOptions(mfOptions(bindings)),
    dispose: () => mf.dispose(),
  };
}
