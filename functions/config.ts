/**
 * Node configuration from the environment and an optional JSON file (docs/configuration.md).
 *
 *   HOST (127.0.0.1)  PORT (8787)  DATA_DIR (./data)  TALLY_CONFIG (./tally.config.json, if present)
 *   TALLY_SECRET      signs page tokens; by default a random secret kept in DATA_DIR/.tally-secret
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { KeyEntry } from "./auth.ts";
import { type EncryptionConfig, encryptionFromEnv } from "./encryption-config.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { checkPolicies, type ModulePolicies } from "./module-policy.ts";

export interface NodeConfig {
  host: string;
  port: number;
  dataDir: string;
  /** Undefined: no keys configured, open single-tenant mode (loopback hosts only). */
  keys: KeyEntry[] | undefined;
  limits: Limits;
  cacheBytes: number;
  /** Memory for writers' duplicate-check fingerprints (store/partition-ids.ts). */
  idIndexBytes: number;
  /** How often the partitions this process wrote to are compacted (ms). */
  compactionIntervalMs: number;
  secret: string | undefined;
  configFile: string | undefined;
  /** Per-module retention, location rounding, geo floors. */
  modules: ModulePolicies;
  /** Encryption at rest; undefined: segments are stored plain. */
  encryption: EncryptionConfig | undefined;
  /** How often interrupted deletions are finished and retention applied (ms). */
  maintenanceIntervalMs: number;
}

interface ConfigFile {
  keys?: KeyEntry[];
  limits?: Partial<Limits>;
  cacheBytes?: number;
  idIndexBytes?: number;
  compactionIntervalMs?: number;
  modules?: unknown;
  encryption?: EncryptionConfig;
  maintenanceIntervalMs?: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const explicit = env.TALLY_CONFIG;
  const path = resolve(explicit ?? "tally.config.json");
  let file: ConfigFile = {};
  if (explicit || existsSync(path)) {
    try {
      file = JSON.parse(readFileSync(path, "utf8")) as ConfigFile;
    } catch (e) {
      throw new Error(`[tally] cannot read config ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const port = Number(env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`[tally] PORT ${env.PORT} is not a port`);
  for (const name of Object.keys(file.limits ?? {})) {
    if (!(name in DEFAULT_LIMITS)) throw new Error(`[tally] config ${path}: unknown limit "${name}"`);
  }
  for (const name of [
    "cacheBytes",
    "idIndexBytes",
    "compactionIntervalMs",
    "maintenanceIntervalMs",
  ] as const) {
    const value = file[name];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0))
      throw new Error(
        `[tally] config ${path}: ${name} must be a whole number ≥ 0, not ${JSON.stringify(value)}`,
      );
  }
  return {
    host: env.HOST || "127.0.0.1",
    port,
    dataDir: resolve(env.DATA_DIR || "data"),
    keys: file.keys && file.keys.length > 0 ? file.keys : undefined,
    limits: { ...DEFAULT_LIMITS, ...file.limits },
    cacheBytes: file.cacheBytes ?? 256 * 1024 * 1024,
    idIndexBytes: file.idIndexBytes ?? 64 * 1024 * 1024,
    compactionIntervalMs: file.compactionIntervalMs ?? 30_000,
    secret: env.TALLY_SECRET || undefined,
    configFile: explicit || existsSync(path) ? path : undefined,
    modules: checkPolicies(file.modules, path),
    encryption: encryptionFromEnv(env.TALLY_ENCRYPTION_KEYS) ?? file.encryption,
    maintenanceIntervalMs: file.maintenanceIntervalMs ?? 3_600_000,
  };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
