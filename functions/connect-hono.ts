/**
 * Serves a Connect router from Hono: Connect and gRPC-web, unary and server-streaming, through the fetch
 * API, so the same app runs on Node and on Workers. (Plain gRPC needs HTTP/2 trailers, which a fetch
 * Response cannot carry; node.ts serves it beside this.)
 */
import type { ConnectRouter } from "@connectrpc/connect";
import {
  universalServerRequestFromFetch,
  universalServerResponseToFetch,
} from "@connectrpc/connect/protocol";
import type { MiddlewareHandler } from "hono";

export function connectMiddleware(router: ConnectRouter): MiddlewareHandler {
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return async (c, next) => {
    const handler = handlers.get(c.req.path);
    if (!handler) return next();
    const ureq = universalServerRequestFromFetch(c.req.raw, {});
    const ures = await handler(ureq);
    return universalServerResponseToFetch(ures);
  };
}
