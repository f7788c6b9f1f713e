/**
 * The real server process: restarts, two processes on one data directory, API keys and tenants, and the
 * refusal to serve a non-loopback host without keys.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, describe, expect, it } from "vitest";
import { Interval } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { AUTH_KEYS, checkAuth } from "./auth-suite.ts";
import {
  serverClient as client,
  runServerToExit,
  type ServerProcess,
  startServer,
} from "./server-process.ts";

const dirs: string[] = [];
const servers: ServerProcess[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tally-server-"));
  dirs.push(dir);
  return dir;
}

async function start(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServer(env);
  servers.push(server);
  return server;
}

const T0 = Date.UTC(2026, 5, 1);
const RANGE = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 30 * 86_400_000) };

function batch(prefix: string, n: number, withIds = true) {
  return Array.from({ length: n }, (_, i) => ({
    ...(withIds ? { id: `${prefix}-${i}` } : {}),
    type: "enrolled",
    time: timestampFromMs(T0 + ((i * 7_919_000) % (29 * 86_400_000))),
    data: { org: `org-${i % 3}`, userId: `u-${i}` },
  }));
}

async function total(url: string, key?: string): Promise<number> {
  const res = await client(url, key).querySeries({
    module: "mod-disco",
    range: RANGE,
    interval: Interval.TOTAL,
  });
  return res.rows.reduce((sum, row) => sum + row.value, 0);
}

describe("the server process", () => {
  it("keeps every event across a restart, and after a crash", async () => {
    const dataDir = tempDir();
    let server = await start({ DATA_DIR: dataDir });
    await client(server.url).recordEvents({ module: "mod-disco", events: batch("a", 500) });
    await server.stop();
    server = await start({ DATA_DIR: dataDir });
    expect(await total(server.url)).toBe(500);
    await client(server.url).recordEvents({ module: "mod-disco", events: batch("b", 300) });
    await server.kill();
    server = await start({ DATA_DIR: dataDir });
    expect(await total(server.url)).toBe(800);
    // Retrying an acknowledged batch after the restart changes nothing.
    const retry = await client(server.url).recordEvents({ module: "mod-disco", events: batch("b", 300) });
    expect(retry).toMatchObject({ accepted: 0, duplicates: 300 });
    expect(await total(server.url)).toBe(800);
  });

  it("loses nothing when two processes write to one data directory at once", async () => {
    const dataDir = tempDir();
    const [a, b] = await Promise.all([start({ DATA_DIR: dataDir }), start({ DATA_DIR: dataDir })]);
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      writes.push(client(a!.url).recordEvents({ module: "mod-disco", events: batch(`a${i}`, 50) }));
      writes.push(client(b!.url).recordEvents({ module: "mod-disco", events: batch(`b${i}`, 50) }));
      // The same retried batch on both processes at once: stored by both, counted once.
      const retried = batch(`r${i}`, 10);
      writes.push(client(a!.url).recordEvents({ module: "mod-disco", events: retried }));
      writes.push(client(b!.url).recordEvents({ module: "mod-disco", events: retried }));
      // Events without ids are never duplicates of each other.
      writes.push(client(b!.url).recordEvents({ module: "mod-disco", events: batch(`n${i}`, 5, false) }));
    }
    await Promise.all(writes);
    const expected = 20 * (50 + 50 + 10 + 5);
    expect(await total(a!.url)).toBe(expected);
    expect(await total(b!.url)).toBe(expected);
    const listed = new Set<string>();
    let pageToken = "";
    do {
      const page = await client(a!.url).listEvents({
        module: "mod-disco",
        range: RANGE,
        pageSize: 1000,
        pageToken,
      });
      for (const e of page.events) {
        expect(listed.has(e.id)).toBe(false);
        listed.add(e.id);
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(listed.size).toBe(expected);
  });

  it("authenticates by API key and keeps tenants apart", async () => {
    const dir = tempDir();
    const config = join(dir, "tally.config.json");
    writeFileSync(config, JSON.stringify({ keys: AUTH_KEYS }));
    const server = await start({ DATA_DIR: join(dir, "data"), TALLY_CONFIG: config });
    expect(server.output()).toContain("4 API key(s)");
    await checkAuth((key) => client(server.url, key));
  });

  it("refuses to serve a non-loopback host without keys, and says how to fix it", async () => {
    const { code, output } = await runServerToExit({ HOST: "0.0.0.0", DATA_DIR: tempDir() });
    expect(code).toBe(1);
    expect(output).toMatch(/without API keys/);
    expect(output).toMatch(/tally\.config\.json/);
  });

  it("tells HTTP/1.1 from HTTP/2 even when the first bytes arrive one at a time", async () => {
    const server = await start({ DATA_DIR: tempDir() });
    const { port } = new URL(server.url);
    // HTTP/1.1, written byte by byte.
    const h1 = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), "127.0.0.1");
      let answer = "";
      socket.on("data", (d) => (answer += d.toString()));
      socket.on("end", () => resolve(answer));
      socket.on("error", reject);
      const request = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      let i = 0;
      const next = () => {
        if (i < request.length) socket.write(request[i++]!, () => setTimeout(next, 2));
      };
      next();
    });
    expect(h1).toMatch(/^HTTP\/1\.1 200/);
    // HTTP/2 whose connection preface is split after its first byte.
    const session = http2.connect(server.url, {
      createConnection: () => {
        const socket = net.connect(Number(port), "127.0.0.1");
        socket.setNoDelay(true);
        const write = socket.write.bind(socket) as (chunk: Buffer, cb?: () => void) => boolean;
        let first = true;
        socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
          if (!first) return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
          first = false;
          const bytes = Buffer.from(chunk);
          write(bytes.subarray(0, 1));
          setTimeout(() => (write as (...a: unknown[]) => boolean)(bytes.subarray(1), ...rest), 20);
          return true;
        }) as typeof socket.write;
        return socket;
      },
    });
    const h2 = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ":path": "/healthz" });
      req.on("response", (headers) => resolve(Number(headers[":status"])));
      req.on("error", reject);
      req.end();
    });
    session.close();
    expect(h2).toBe(200);
  });

  it("answers the health check", async () => {
    const server = await start({ DATA_DIR: tempDir() });
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });
});
