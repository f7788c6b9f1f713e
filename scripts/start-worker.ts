/**
 * `npm run start:worker`: the Workers build, served locally by workerd through Miniflare — no Cloudflare
 * account needed. It bundles functions/worker.ts as `npm run build:worker` does, binds an R2 bucket
 * persisted under DATA_DIR/r2, and takes the same configuration as `npm start` (docs/configuration.md):
 *
 *   HOST (127.0.0.1)  PORT (8788)  DATA_DIR (./data)  TALLY_CONFIG (./tally.config.json: keys, limits)
 *   TALLY_SECRET      by default a random secret kept in DATA_DIR/.tally-worker-secret
 *   TALLY_STEP_EVENTS events per query step (see docs/deploy.md, "CPU budget")
 *   TALLY_ENCRYPTION_KEYS, and the file's "modules" and "encryption": passed on as the Worker's bindings
 *
 * Cron Triggers do not fire by themselves in Miniflare, so this script runs the `scheduled` handler
 * (compaction) every COMPACT_EVERY_MS (60,000).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { isLoopback, loadConfig } from "../functions/config.ts";
import type { EncryptionConfig } from "../functions/encryption-config.ts";
import { BUNDLE, buildWorker, wranglerCompatibility } from "./build-worker.ts";

const config = loadConfig({ ...process.env, PORT: process.env.PORT ?? "8788" });
if (!config.keys && !isLoopback(config.host)) {
  console.error(
    `[tally] refusing to serve ${config.host} without API keys: anyone could read and write. ` +
      'List keys under "keys" in tally.config.json (or set TALLY_CONFIG), or bind HOST=127.0.0.1.',
  );
  process.exit(1);
}
mkdirSync(config.dataDir, { recursive: true });
const secretFile = join(config.dataDir, ".tally-worker-secret");
if (!config.secret && !existsSync(secretFile))
  writeFileSync(secretFile, randomBytes(32).toString("hex"), { mode: 0o600 });
const secret = config.secret ?? readFileSync(secretFile, "utf8").trim();

/** TALLY_ENCRYPTION_KEYS' form, `id=<base64>,…`, the current key first (functions/encryption-config.ts). */
function encryptionKeysBinding({ current, keys }: EncryptionConfig): string {
  const ids = [current, ...Object.keys(keys).filter((id) => id !== current)];
  return ids.map((id) => `${id}=${keys[id] ?? ""}`).join(",");
}

await buildWorker();
const mf = new Miniflare({
  name: "tally",
  modules: true,
  scriptPath: BUNDLE,
  ...wranglerCompatibility(),
  cf: false,
  host: config.host,
  port: config.port,
  r2Buckets: ["TALLY_BUCKET"],
  r2Persist: join(config.dataDir, "r2"),
  durableObjects: { STEPS: "QueryStep" },
  bindings: {
    TALLY_SECRET: secret,
    TALLY_LIMITS: JSON.stringify(config.limits),
    ...(config.keys ? { TALLY_KEYS: JSON.stringify(config.keys) } : { TALLY_OPEN: "true" }),
    // The module policies and encryption keys `npm start` would apply: without them the same configuration
    // would store precise locations and plaintext here.
    ...(Object.keys(config.modules).length > 0 ? { TALLY_MODULES: JSON.stringify(config.modules) } : {}),
    ...(config.encryption ? { TALLY_ENCRYPTION_KEYS: encryptionKeysBinding(config.encryption) } : {}),
    ...(process.env.TALLY_STEP_EVENTS ? { TALLY_STEP_EVENTS: process.env.TALLY_STEP_EVENTS } : {}),
  },
});
const url = await mf.ready;
const mode = config.keys
  ? `${config.keys.length} API key(s) from ${config.configFile}`
  : 'no API keys configured: open single-tenant mode, tenant "default", no auth (loopback only)';
const shown = `${url.protocol}//${url.host}`;
console.log(
  `Tally (workerd) listening on ${shown} — R2 persisted in ${join(config.dataDir, "r2")} — ${mode}`,
);

const every = Number(process.env.COMPACT_EVERY_MS ?? 60_000);
let compacting = false;
const timer = setInterval(async () => {
  if (compacting) return;
  compacting = true;
  try {
    await (await mf.getWorker()).scheduled({ cron: "*/10 * * * *", scheduledTime: new Date() });
  } catch (error) {
    console.error(`[tally] scheduled compaction failed: ${error instanceof Error ? error.message : error}`);
  } finally {
    compacting = false;
  }
}, every);

const stop = async () => {
  clearInterval(timer);
  await mf.dispose();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
