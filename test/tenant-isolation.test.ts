/**
 * Tenant isolation, property-based: random worlds of look-alike tenants and modules (worldArb), checked
 * in process (config keys for some tenants, stored keys for others) and, in a smaller slice, against a
 * real server process over HTTP.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, describe, it } from "vitest";
import { createApp } from "../functions/app.ts";
import type { KeyEntry } from "../functions/auth.ts";
import { routerOptions, routes } from "../functions/routes.ts";
import { testDeps } from "../functions/test-deps.ts";
import { TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { checkIsolation, worldArb } from "./isolation-world.ts";
import { type ServerProcess, startServer } from "./server-process.ts";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const withKey = (key: string) => [
  (next: Parameters<import("@connectrpc/connect").Interceptor>[0]) =>
    (req: Parameters<ReturnType<import("@connectrpc/connect").Interceptor>>[0]) => {
      req.header.set("authorization", `Bearer ${key}`);
      return next(req);
    },
];

describe("tenant isolation", () => {
  it("in process: no answer, export, link or error of one tenant holds another's data", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        // Even-numbered tenants authenticate with configuration keys, odd ones with stored keys.
        const keys: KeyEntry[] = world.tenants.map((t) => ({
          name: t,
          hash: sha(`admin-${t}`),
          tenant: t,
          scopes: ["ingest", "read", "admin"],
        }));
        const deps = testDeps({ keys });
        const bootstrap = (key: string) =>
          createClient(
            TelemetryService,
            createRouterTransport((router) => routes(router, deps), {
              router: routerOptions(deps),
              transport: { interceptors: withKey(key) },
            }),
          );
        const clients = await Promise.all(
          world.tenants.map(async (t, i) => {
            if (i % 2 === 0) return bootstrap(`admin-${t}`);
            const { key } = await bootstrap(`admin-${t}`).createKey({ scopes: ["ingest", "read", "admin"] });
            return bootstrap(key);
          }),
        );
        const app = createApp(deps);
        await checkIsolation(
          world,
          (t) => clients[t]!,
          async (url) => (await app.request(url)).text(),
          {
            deletes: true,
          },
        );
      }),
      { numRuns: 25, seed: 7_2026 },
    );
  });

  describe("against a real server", () => {
    const dirs: string[] = [];
    const servers: ServerProcess[] = [];
    afterAll(async () => {
      await Promise.all(servers.map((s) => s.stop()));
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it("holds over HTTP for a few worlds", async () => {
      await fc.assert(
        fc.asyncProperty(worldArb, async (world) => {
          const dir = mkdtempSync(join(tmpdir(), "tally-isolation-"));
          dirs.push(dir);
          const config = join(dir, "tally.config.json");
          writeFileSync(
            config,
            JSON.stringify({
              keys: world.tenants.map((t) => ({
                name: t,
                hash: sha(`k-${t}`),
                tenant: t,
                scopes: ["ingest", "read", "admin"],
              })),
            }),
          );
          const server = await startServer({ DATA_DIR: join(dir, "data"), TALLY_CONFIG: config });
          servers.push(server);
          try {
            await checkIsolation(
              world,
              (t) =>
                createClient(
                  TelemetryService,
                  createConnectTransport({
                    baseUrl: server.url,
                    httpVersion: "1.1",
                    interceptors: withKey(`k-${world.tenants[t]}`),
                  }),
                ),
              async (url) => (await fetch(new URL(url, server.url))).text(),
            );
          } finally {
            await server.stop();
          }
        }),
        { numRuns: 3, seed: 2026 },
      );
    });
  });
});
