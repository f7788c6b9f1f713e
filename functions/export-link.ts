/**
 * Download links for exports: `/exports/<token>`, where the token seals the tenant, the export request
 * and an expiry with the server secret. The link is the credential (a browser's plain GET carries no API
 * key), so it lives 15 minutes and cannot be altered into another tenant's or another query's export.
 * A link made with a stored key also names that key, and stops working the moment the key is revoked,
 * as the key itself does.
 */
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import type { Context } from "hono";
import {
  type CreateExportLinkRequest,
  ExportCsvRequestSchema,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { TallyError } from "../store/errors.ts";
import { exportCsv } from "../store/export.ts";
import { isStoredKey, type Principal } from "./auth.ts";
import type { ServiceDeps } from "./service.ts";
import { validateExport } from "./validate-export.ts";

export const LINK_TTL_MS = 15 * 60_000;
const SCOPE = "export-link";

interface LinkPayload {
  /** tenant */
  t: string;
  /** the ExportCsvRequest as proto3 JSON */
  r: JsonValue;
  /** expiry, ms since the epoch */
  e: number;
  /** the stored key that made it (key-records.ts), checked at each download; absent for configured keys */
  k?: string;
}

export async function createLink(
  deps: ServiceDeps,
  principal: Principal,
  req: CreateExportLinkRequest,
  now: number,
) {
  const same = create(ExportCsvRequestSchema, { query: req.query, bom: req.bom, columns: req.columns });
  const request = toJson(ExportCsvRequestSchema, same);
  const expires = Math.floor(now) + LINK_TTL_MS;
  const payload: LinkPayload = { t: principal.tenant, r: request, e: expires };
  if (isStoredKey(principal.keyId)) payload.k = principal.keyId;
  const token = await deps.tokens.seal(SCOPE, payload);
  return { url: `/exports/${token}`, expires };
}

/** GET /exports/:token — the CSV as an attachment, gzipped when the client accepts it. */
export async function serveLink(c: Context, deps: ServiceDeps): Promise<Response> {
  const payload = await deps.tokens.unseal<LinkPayload>(SCOPE, c.req.param("token") ?? "");
  if (payload === "malformed" || payload === "forged") {
    return c.text("This export link is not valid (it may have been altered). Create a new one.\n", 403);
  }
  const now = deps.store.now();
  if (payload.e < now) {
    return c.text(
      `This export link expired at ${new Date(payload.e).toISOString()}. Create a new one.\n`,
      403,
    );
  }
  if (payload.k !== undefined) {
    const record = await deps.auth.records?.get(payload.k);
    if (!record || record.tenant !== payload.t || record.revoked !== undefined) {
      return c.text("The API key that made this export link was revoked. Create a new link.\n", 403);
    }
  }
  let valid: ReturnType<typeof validateExport>;
  try {
    valid = validateExport(fromJson(ExportCsvRequestSchema, payload.r), payload.t, now, deps.limits);
  } catch (error) {
    if (error instanceof TallyError) return c.text(`${error.message}\n`, 400);
    throw error;
  }
  const encoder = new TextEncoder();
  const chunks = exportCsv(deps.store, valid.what, {
    bom: valid.bom,
    limits: deps.limits,
    aggregate: deps.aggregate,
  });
  let body: ReadableStream<Uint8Array> = new ReadableStream({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      } catch (error) {
        // Headers are gone already: a cut-off body is the only signal left, and the log says why.
        console.error(
          `[tally] export ${valid.filename} failed: ${error instanceof Error ? error.message : error}`,
        );
        controller.error(error);
      }
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
  const headers: Record<string, string> = {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="${valid.filename}"`,
    "cache-control": "private, no-store",
  };
  if (/\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) {
    body = body.pipeThrough(
      new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
    headers["content-encoding"] = "gzip";
  }
  return new Response(body, { status: 200, headers });
}
