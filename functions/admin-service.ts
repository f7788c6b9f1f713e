/**
 * The admin RPCs: API keys (CreateKey, ListKeys, RevokeKey) and deletion (DeleteData). Each needs the
 * `admin` scope and acts on the caller's own tenant only — the tenant comes from the key, never from the
 * request, so an admin of one tenant cannot name another.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { KeyInfo, TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { deleteData } from "../store/deletion.ts";
import { invalidArgument, TallyError } from "../store/errors.ts";
import type { KeyRecord } from "../store/key-records.ts";
import { SCOPES, type Scope } from "./auth.ts";
import type { ServiceDeps } from "./service.ts";
import { validateModule } from "./validate-events.ts";

type AdminRpcs = Pick<
  ServiceImpl<typeof TelemetryService>,
  "createKey" | "listKeys" | "revokeKey" | "deleteData"
>;

export function adminService(deps: ServiceDeps): AdminRpcs {
  const { auth, store } = deps;
  const admin = (ctx: HandlerContext) => auth.authorize(ctx.requestHeader, "admin");
  const records = () => {
    if (!auth.records)
      throw new TallyError("failed_precondition", "this server keeps no API keys in its store");
    return auth.records;
  };

  return {
    async createKey(req, ctx) {
      // A key never mints a key below its own geo floor: the floor is for keys that must never see small cells.
      const { tenant, minGeoCount: floor } = await admin(ctx);
      const scopes = validateScopes(req.scopes);
      if (req.name.length > 256) throw invalidArgument("name", `${req.name.length} characters; at most 256`);
      if (/[\u0000-\u001f\u007f]/.test(req.name)) throw invalidArgument("name", "control characters");
      if (req.minGeoCount < 0) throw invalidArgument("minGeoCount", "must not be negative");
      const { key, record } = await records().create({
        tenant,
        scopes,
        name: req.name,
        minGeoCount: Math.max(req.minGeoCount, floor),
        now: store.now(),
      });
      return { key, info: keyInfo(record) };
    },

    async listKeys(req, ctx) {
      const { tenant } = await admin(ctx);
      const all = await records().list(tenant);
      return { keys: all.filter((r) => req.includeRevoked || r.revoked === undefined).map(keyInfo) };
    },

    async revokeKey(req, ctx) {
      const { tenant } = await admin(ctx);
      if (!req.id) throw invalidArgument("id", "required (see ListKeys)");
      return { info: keyInfo(await records().revoke(tenant, req.id, store.now())) };
    },

    async deleteData(req, ctx) {
      const { tenant } = await admin(ctx);
      if (req.module) {
        if (req.allModules) throw invalidArgument("allModules", "give either module or allModules, not both");
        return deleteData(store, { tenant, module: validateModule(req.module) });
      }
      if (!req.allModules)
        throw invalidArgument("module", "required; to delete every module of the tenant set allModules");
      return deleteData(store, { tenant });
    },
  };
}

export function validateScopes(scopes: readonly string[], field = "scopes"): Scope[] {
  if (scopes.length === 0) throw invalidArgument(field, `at least one of ${SCOPES.join(", ")}`);
  scopes.forEach((s, i) => {
    if (!(SCOPES as readonly string[]).includes(s))
      throw invalidArgument(
        `${field}[${i}]`,
        `${JSON.stringify(s.slice(0, 40))} is not one of ${SCOPES.join(", ")}`,
      );
  });
  return [...new Set(scopes)] as Scope[];
}

export function keyInfo(r: KeyRecord): Omit<KeyInfo, "$typeName" | "$unknown"> {
  return {
    id: r.id,
    name: r.name,
    tenant: r.tenant,
    scopes: r.scopes,
    createdAt: timestampFromMs(r.created),
    ...(r.revoked !== undefined ? { revokedAt: timestampFromMs(r.revoked) } : {}),
    minGeoCount: r.minGeoCount ?? 0,
  };
}
