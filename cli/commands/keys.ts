/**
 * `tally keys create|list|revoke`: API keys kept in the store. Through a server (CreateKey, ListKeys,
 * RevokeKey with an admin key; keys of that key's tenant), or straight in a data directory with
 * `--data-dir` — how the first key of a tenant is made, before any key exists to ask a server with.
 */
import { create, toJson } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Command, Option } from "commander";
import { keyInfo, validateScopes } from "../../functions/admin-service.ts";
import {
  CreateKeyResponseSchema,
  type KeyInfo,
  KeyInfoSchema,
  ListKeysResponseSchema,
} from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { TallyError } from "../../store/errors.ts";
import { type GlobalOptions, makeClient } from "../client.ts";
import { UsageError } from "../errors.ts";
import { checkTenant, openLocalStore } from "../local-store.ts";
import { JSON_OPTIONS, jsonText, note, out, outputFormat, tableText } from "../output.ts";

interface LocalFlags {
  dataDir?: string;
  tenant?: string;
}

const dataDirOption = () =>
  new Option("--data-dir <dir>", "work on this data directory directly, without a server (then --tenant)");

export function keysCommand(program: Command): Command {
  const keys = program.command("keys").description("create, list and revoke API keys (admin)");

  keys
    .command("create")
    .description("make a new API key; it is printed once and stored only as a hash")
    .addOption(new Option("--scopes <list>", "comma-separated: ingest, read, admin").makeOptionMandatory())
    .option("--name <label>", "a label for people", "")
    .option("--min-geo-count <n>", "QueryGeo never answers this key a bin with fewer events")
    .addOption(dataDirOption())
    .option("--tenant <name>", "with --data-dir: the key's tenant")
    .action(async (_o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<
        GlobalOptions & LocalFlags & { scopes: string; name: string; minGeoCount?: string }
      >();
      const scopes = local(() =>
        validateScopes(
          flags.scopes
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean),
          "--scopes",
        ),
      );
      const minGeoCount = flags.minGeoCount === undefined ? 0 : Number(flags.minGeoCount);
      if (!Number.isInteger(minGeoCount) || minGeoCount < 0)
        throw new UsageError(`--min-geo-count ${flags.minGeoCount}: expected a whole number >= 0`);
      let res: { key: string; info: KeyInfo };
      if (flags.dataDir) {
        const { keys: records } = await openLocalStore(flags.dataDir);
        const made = await records.create({
          tenant: checkTenant(flags.tenant),
          scopes,
          name: flags.name,
          minGeoCount,
          now: Date.now(),
        });
        res = { key: made.key, info: create(KeyInfoSchema, keyInfo(made.record)) };
      } else {
        if (flags.tenant)
          throw new UsageError("--tenant needs --data-dir: a server makes keys for the caller's tenant");
        const made = await makeClient(flags).createKey({ scopes, name: flags.name, minGeoCount });
        res = { key: made.key, info: made.info ?? create(KeyInfoSchema) };
      }
      const format = outputFormat(flags.output);
      if (format === "table") {
        note("the key is shown this once; send it as `Authorization: Bearer <key>` (or --token)");
        await out(`${res.key}\n`);
        await out(infoTable([res.info]));
      } else {
        const json = toJson(CreateKeyResponseSchema, create(CreateKeyResponseSchema, res), JSON_OPTIONS);
        await out(format === "json" ? jsonText(json) : `${JSON.stringify(json)}\n`);
      }
    });

  keys
    .command("list")
    .description("the tenant's keys (never the keys themselves)")
    .option("--revoked", "include revoked keys")
    .addOption(dataDirOption())
    .option("--tenant <name>", "with --data-dir: whose keys")
    .action(async (_o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<GlobalOptions & LocalFlags & { revoked?: boolean }>();
      let infos: KeyInfo[];
      if (flags.dataDir) {
        const { keys: records } = await openLocalStore(flags.dataDir, { mustExist: true });
        infos = (await records.list(checkTenant(flags.tenant)))
          .filter((r) => flags.revoked || r.revoked === undefined)
          .map((r) => create(KeyInfoSchema, keyInfo(r)));
      } else {
        infos = (await makeClient(flags).listKeys({ includeRevoked: flags.revoked ?? false })).keys;
      }
      const format = outputFormat(flags.output);
      if (format === "table") await out(infoTable(infos));
      else if (format === "json")
        await out(
          jsonText(
            toJson(ListKeysResponseSchema, create(ListKeysResponseSchema, { keys: infos }), JSON_OPTIONS),
          ),
        );
      else
        for (const info of infos) await out(`${JSON.stringify(toJson(KeyInfoSchema, info, JSON_OPTIONS))}\n`);
    });

  keys
    .command("revoke")
    .description("revoke a key: every server sharing the store refuses it from the next request on")
    .argument("<id>", "the key's id (from `tally keys list`)")
    .addOption(dataDirOption())
    .option("--tenant <name>", "with --data-dir: the key's tenant")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<GlobalOptions & LocalFlags>();
      let info: KeyInfo;
      if (flags.dataDir) {
        const { keys: records } = await openLocalStore(flags.dataDir, { mustExist: true });
        info = create(
          KeyInfoSchema,
          keyInfo(await records.revoke(checkTenant(flags.tenant), id, Date.now())),
        );
      } else {
        info = (await makeClient(flags).revokeKey({ id })).info ?? create(KeyInfoSchema);
      }
      const format = outputFormat(flags.output);
      if (format === "table") await out(`revoked ${info.id}${info.name ? ` (${info.name})` : ""}\n`);
      else await out(jsonText(toJson(KeyInfoSchema, info, JSON_OPTIONS)));
    });
  return keys;
}

/** Runs a check the server would run, turning its TallyError into a usage or plain error line. */
function local<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof TallyError && error.code === "invalid_argument") throw new UsageError(error.message);
    throw error;
  }
}

function infoTable(infos: KeyInfo[]): string {
  const when = (t: KeyInfo["createdAt"]) =>
    t ? new Date(timestampMs(t)).toISOString().slice(0, 19).replace("T", " ") : "";
  return tableText(
    ["id", "name", "tenant", "scopes", "created (UTC)", "revoked (UTC)", "min geo count"],
    infos.map((i) => [
      i.id,
      i.name,
      i.tenant,
      i.scopes.join(","),
      when(i.createdAt),
      when(i.revokedAt),
      String(i.minGeoCount || ""),
    ]),
  );
}
