/**
 * The store in a data directory, opened by the CLI itself (no server): for bootstrapping keys, backups,
 * restores and migrations. It reads the same configuration as the server — TALLY_CONFIG (or
 * ./tally.config.json), TALLY_ENCRYPTION_KEYS — so it opens encrypted segments and honours retention.
 */
import { existsSync } from "node:fs";
import { createStorage } from "unstorage";
import { loadConfig } from "../functions/config.ts";
import { segmentCodec } from "../functions/encryption-config.ts";
import { fsAtomicDriver } from "../storage-drivers/fs-atomic.ts";
import { checkEncryptionKeys } from "../store/encryption-check.ts";
import { EventStore } from "../store/event-store.ts";
import { KeyRecords } from "../store/key-records.ts";
import { isValidTenant } from "../store/keys.ts";
import { UsageError } from "./errors.ts";

export async function openLocalStore(
  dataDir: string,
  options: { config?: string; mustExist?: boolean } = {},
) {
  if (options.mustExist && !existsSync(dataDir))
    throw new UsageError(`--data-dir ${dataDir}: no such directory`);
  const env = {
    ...process.env,
    DATA_DIR: dataDir,
    ...(options.config ? { TALLY_CONFIG: options.config } : {}),
  };
  const config = loadConfig(env);
  const storage = createStorage({ driver: fsAtomicDriver({ base: config.dataDir }) });
  const codec = await segmentCodec(config.encryption);
  await checkEncryptionKeys(storage, codec);
  const store = new EventStore({
    storage,
    codec,
    retentionDays: (module) => config.modules[module]?.retentionDays,
  });
  return { store, keys: new KeyRecords(storage), config };
}

export function checkTenant(tenant: string | undefined, flag = "--tenant"): string {
  if (!tenant) throw new UsageError(`${flag} is required with --data-dir`);
  if (!isValidTenant(tenant))
    throw new UsageError(`${flag} ${JSON.stringify(tenant)}: use lower-case letters, digits and dashes`);
  return tenant;
}
