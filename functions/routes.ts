/**
 * The one place RPCs are registered. The Node server, the Worker and the in-memory tests all build their
 * router here, with the same options.
 */
import { type ConnectRouter, type ConnectRouterOptions, createConnectRouter } from "@connectrpc/connect";
import { TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { gzip } from "./compression.ts";
import { errorInterceptor } from "./errors.ts";
import { mapParseErrors } from "./parse-errors.ts";
import { rateLimitInterceptor } from "./rate-limit.ts";
import { type ServiceDeps, telemetryService } from "./service.ts";
import "./text-encoding.ts";

export function routes(router: ConnectRouter, deps: ServiceDeps): ConnectRouter {
  router.service(TelemetryService, telemetryService(deps));
  // Unparseable binary is invalid_argument, not connect-es's internal (parse-errors.ts).
  mapParseErrors(router, deps.limits.maxRequestBytes);
  return router;
}

export function createRouter(deps: ServiceDeps): ConnectRouter {
  return routes(createConnectRouter(routerOptions(deps)), deps);
}

export function routerOptions(deps: ServiceDeps): ConnectRouterOptions {
  return {
    acceptCompression: [gzip],
    readMaxBytes: deps.limits.maxRequestBytes,
    writeMaxBytes: 64 * 1024 * 1024,
    maxTimeoutMs: 5 * 60_000,
    // Refuse unknown JSON fields: a misspelt `timezone` must not silently mean UTC.
    // Emit zeros and empty strings too: `"value": 0` and `"duplicates": 0` are answers, not absences.
    jsonOptions: { ignoreUnknownFields: false, alwaysEmitImplicit: true },
    // The rate limit first: a call over it costs no storage work.
    interceptors: [errorInterceptor, rateLimitInterceptor(deps.limits)],
  };
}
