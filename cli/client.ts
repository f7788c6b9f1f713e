/** The Connect client every command talks through, and the global flags that shape it. */
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { UsageError } from "./errors.ts";

export interface GlobalOptions {
  server: string;
  token?: string;
  output?: string;
  pageSize?: string;
  pageToken?: string;
  all?: boolean;
}

export type TelemetryClient = Client<typeof TelemetryService>;

export function makeClient(globals: GlobalOptions): TelemetryClient {
  let baseUrl: URL;
  try {
    baseUrl = new URL(globals.server);
  } catch {
    throw new UsageError(
      `--server ${JSON.stringify(globals.server)} is not a URL (e.g. http://127.0.0.1:8787)`,
    );
  }
  const interceptors: Interceptor[] = [];
  const token = globals.token;
  if (token) {
    interceptors.push((next) => (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    });
  }
  // HTTP/1.1: the server answers Connect on it, and it needs no TLS or prior knowledge to reach.
  return createClient(
    TelemetryService,
    createConnectTransport({ baseUrl: baseUrl.href.replace(/\/$/, ""), httpVersion: "1.1", interceptors }),
  );
}
