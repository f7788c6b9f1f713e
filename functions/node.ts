/**
 * `npm start`: Tally on Node. One port serves HTTP/1.1 (Connect, gRPC-web, health) through Hono and
 * HTTP/2 (plain gRPC with trailers, and everything else) through connect-node with Hono as its fallback.
 * The first bytes of a connection decide: HTTP/2 always opens with the preface `PRI * HTTP/2.0`.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { isMainThread } from "node:worker_threads";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { getRequestListener } from "@hono/node-server";
import { createStorage } from "unstorage";
import { fsAtomicDriver } from "../storage-drivers/fs-atomic.ts";
import { startCompactor } from "../store/compaction.ts";
import { checkEncryptionKeys } from "../store/encryption-check.ts";
import { EventStore } from "../store/event-store.ts";
import { KeyRecords } from "../store/key-records.ts";
import { startMaintenance } from "../store/retention.ts";
import { createApp } from "./app.ts";
import { Authenticator } from "./auth.ts";
import { isLoopback, loadConfig, type NodeConfig } from "./config.ts";
import { segmentCodec } from "./encryption-config.ts";
import { isEntry } from "./is-entry.ts";
import { folderAssets } from "./node-assets.ts";
import { nodeCrc32 } from "./node-crc32.ts";
import { WorkerEncoder } from "./node-encoder.ts";
import { nodeInflate } from "./node-inflate.ts";
import { PageTokens } from "./page-token.ts";
import { routerOptions, routes } from "./routes.ts";
import type { ServiceDeps } from "./service.ts";

/** The page-token secret: configured, or created once per data directory (atomically, so two processes agree). */
async function loadSecret(config: NodeConfig): Promise<Uint8Array<ArrayBuffer>> {
  if (config.secret) return new Uint8Array(new TextEncoder().encode(config.secret));
  await mkdir(config.dataDir, { recursive: true });
  const path = join(config.dataDir, ".tally-secret");
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await writeFile(temp, randomBytes(32).toString("hex"), { mode: 0o600, flush: true });
  await link(temp, path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "EEXIST") throw e;
  });
  await unlink(temp);
  return new Uint8Array(Buffer.from((await readFile(path, "utf8")).trim(), "utf8"));
}

/**
 * The socket as a stream that first yields the bytes already read. http2 reads a net.Socket's native
 * handle directly, past anything unshifted into its JS buffer, so it gets this wrapper instead (which it
 * accepts as any duplex stream).
 */
function replaying(socket: net.Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  duplex.push(first);
  socket.on("data", (chunk) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on("end", () => duplex.push(null));
  socket.on("close", () => duplex.destroy());
  socket.on("error", (error) => duplex.destroy(error));
  return duplex;
}

export async function startNode(config: NodeConfig = loadConfig()) {
  const storage = createStorage({ driver: fsAtomicDriver({ base: config.dataDir }) });
  const auth = new Authenticator(config.keys, new KeyRecords(storage));
  if (!(await auth.keyed()) && !isLoopback(config.host)) {
    throw new Error(
      `[tally] refusing to serve ${config.host} without API keys: anyone could read and write. ` +
        "Create a key with `npm run key -- --tenant <name> --scopes ingest,read` and list it under " +
        '"keys" in tally.config.json (or set TALLY_CONFIG), or bind HOST=127.0.0.1.',
    );
  }
  const codec = await segmentCodec(config.encryption);
  // RecordEvents' segments are encoded on another core while the next requests are decoded.
  const encoder = new WorkerEncoder();
  await checkEncryptionKeys(storage, codec);
  const deps: ServiceDeps = {
    store: new EventStore({
      storage,
      cacheBytes: config.cacheBytes,
      idIndexBytes: config.idIndexBytes,
      inflate: nodeInflate,
      crc32: nodeCrc32,
      codec,
      retentionDays: (module) => config.modules[module]?.retentionDays,
      groupCommit: true,
      encoder,
    }),
    auth,
    tokens: new PageTokens(await loadSecret(config)),
    limits: config.limits,
    modules: config.modules,
  };
  const stopCompactor = startCompactor(deps.store, config.compactionIntervalMs);
  const stopMaintenance = startMaintenance(
    deps.store,
    Object.keys(config.modules),
    config.maintenanceIntervalMs,
  );
  const app = createApp(deps, { assets: folderAssets() });
  const listener = getRequestListener(app.fetch);
  const h1 = http.createServer(listener);
  const h2 = http2.createServer(
    {},
    connectNodeAdapter({
      ...routerOptions(deps),
      routes: (router) => routes(router, deps),
      // Hono's listener takes both HTTP/1 and HTTP/2 requests; only its callback typing differs.
      fallback: listener as unknown as NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>,
    }),
  );
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    // Read until the first bytes tell: "PRI" opens every HTTP/2 connection; a first read may be shorter.
    let head = Buffer.alloc(0);
    const sniff = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const seen = head.subarray(0, 3).toString("latin1");
      if (head.length < 3 && "PRI".startsWith(seen)) return;
      socket.off("data", sniff);
      socket.pause();
      if (seen === "PRI") {
        h2.emit("connection", replaying(socket, head));
      } else {
        socket.unshift(head);
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", sniff);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, resolve);
  });
  const address = server.address() as net.AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  const mode = config.keys
    ? `${config.keys.length} API key(s) from ${config.configFile}, and any stored with \`tally keys\``
    : (await auth.keyed())
      ? "API keys stored with `tally keys`"
      : 'no API keys configured: open single-tenant mode, tenant "default", no auth (loopback only)';
  console.log(`Tally listening on ${url} — events stored in ${config.dataDir} — ${mode}`);
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then drops what is left. */
  const close = (graceMs = 2000) =>
    new Promise<void>((resolve) => {
      stopCompactor();
      stopMaintenance();
      // The encoder's worker goes once no request can need it.
      server.close(() => encoder.close().then(resolve, resolve));
      h2.close();
      h1.closeIdleConnections();
      setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs).unref();
    });
  return { url, close };
}

// Not in the segment encoder's worker thread, which may run this module as part of a bundle.
if (isMainThread && isEntry(import.meta.url)) {
  startNode().then(
    (server) => {
      const stop = () => server.close().then(() => process.exit(0));
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
