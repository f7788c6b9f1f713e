/**
 * The Hono app: the API (Connect and gRPC-web), a health check and the dashboard at `/`. Runtime-neutral;
 * node.ts and the Worker entry give it a store, configuration and the dashboard's files.
 */
import { Hono } from "hono";
import { connectMiddleware } from "./connect-hono.ts";
import { serveLink } from "./export-link.ts";
import { recordFastPath } from "./record-fast-path.ts";
import { createRouter } from "./routes.ts";
import type { ServiceDeps } from "./service.ts";
import { type AssetSource, serveAssets } from "./static-assets.ts";

export function createApp(
  deps: ServiceDeps,
  options: { recordFastPath?: boolean /** the dashboard's files (web/dist) */; assets?: AssetSource } = {},
): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/exports/:token", (c) => serveLink(c, deps));
  // RecordEvents in Connect binary skips the generic protobuf decoder (see record-fast-path.ts).
  if (options.recordFastPath !== false) app.use("*", recordFastPath(deps));
  app.use("*", connectMiddleware(createRouter(deps)));
  if (options.assets) app.use("*", serveAssets(options.assets));
  return app;
}
