/**
 * Tally on Cloudflare Workers: the same Hono app as `node.ts` (Connect and gRPC-web; plain gRPC needs
 * HTTP/2 trailers and stays on Node), events in an R2 bucket, configuration from bindings (docs/deploy.md):
 *
 *   TALLY_BUCKET       R2 bucket binding (required)
 *   TALLY_SECRET       secret: signs page tokens, export links and query steps (required)
 *   TALLY_KEYS         secret: the API keys as JSON, `[{ "hash", "tenant", "scopes" }]` (npm run key)
 *   TALLY_OPEN         "true" serves tenant "default" without keys — for local tries only
 *   TALLY_LIMITS       JSON of limits to override (docs/configuration.md)
 *   TALLY_STEP_EVENTS  events whose rows one query step checks before handing over (default 1,000,000;
 *                      an export step writes at most 50,000 rows)
 *   TALLY_CACHE_BYTES  decoded segments kept per isolate (default 32 MiB; an isolate has 128 MB)
 *   TALLY_ENCRYPTION_KEYS  secret: `id=<base64>,id2=<base64>` seals segments with AES-256-GCM, the first
 *                      key current (docs/configuration.md); every key is checked against the store first
 *   TALLY_MODULES      JSON of per-module policies: retentionDays, locationDecimals, minGeoCount
 *   STEPS              Durable Object namespace of class QueryStep: each query step runs in a fresh
 *                      invocation there, with its own CPU limit (worker-steps.ts)
 *
 * `fetch` serves the API and the dashboard (its files are in the bundle: embedded-assets.ts); `scheduled`
 * (a Cron Trigger) compacts recent partitions, finishes interrupted deletions and applies retention;
 * `QueryStep` runs query steps. API keys may also live in the bucket (`tally keys`, key-records.ts),
 * where a revocation holds at once for every isolate.
 *
 * @module
 */
import { createStorage } from "unstorage";
import { type R2BucketLike, r2Driver } from "../storage-drivers/r2.ts";
import { checkEncryptionKeys } from "../store/encryption-check.ts";
import { EventStore } from "../store/event-store.ts";
import { KeyRecords } from "../store/key-records.ts";
import { compactRecent } from "../store/recent-compaction.ts";
import { listTenants, maintain } from "../store/retention.ts";
import { createApp } from "./app.ts";
import { Authenticator, type KeyEntry } from "./auth.ts";
import { embeddedAssets } from "./embedded-assets.ts";
import { encryptionFromEnv, segmentCodec } from "./encryption-config.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { checkPolicies, type ModulePolicies } from "./module-policy.ts";
import { PageTokens } from "./page-token.ts";
import type { ServiceDeps } from "./service.ts";
import { type Fetcher, WorkerSteps } from "./worker-steps.ts";

export interface WorkerEnv {
  TALLY_BUCKET: R2BucketLike;
  TALLY_SECRET?: string;
  TALLY_KEYS?: string;
  TALLY_OPEN?: string;
  TALLY_LIMITS?: string;
  TALLY_STEP_EVENTS?: string;
  TALLY_CACHE_BYTES?: string;
  TALLY_ENCRYPTION_KEYS?: string;
  TALLY_MODULES?: string;
  STEPS?: { newUniqueId(): unknown; get(id: unknown): Fetcher };
}

interface Built {
  deps: ServiceDeps;
  app: ReturnType<typeof createApp>;
  steps: WorkerSteps;
  modules: ModulePolicies;
}

/** Each step to a new Durable Object: a request to one is an invocation with its own CPU time limit. */
function stepObjects(namespace: NonNullable<WorkerEnv["STEPS"]>): Fetcher {
  return { fetch: (request) => namespace.get(namespace.newUniqueId()).fetch(request) };
}

/**
 * One store (and segment cache) per isolate and configuration. Keyed by the configuration rather than the
 * `env` object, so that the Worker and the QueryStep objects running in the same isolate share it.
 */
let built: { key: string; value: Promise<Built> } | undefined;

/** A configuration mistake: answered with its message, never with a half-working server. */
class ConfigError extends Error {}

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new ConfigError(`${name} must be a positive integer, not ${value}`);
  return n;
}

function json<T>(value: string, name: string): T {
  try {
    return JSON.parse(value) as T;
  } catch (error) {
    throw new ConfigError(`${name} is not JSON: ${error instanceof Error ? error.message : error}`);
  }
}

/** The configured Worker; a failed configuration is tried again on the next request. */
function build(env: WorkerEnv): Promise<Built> {
  const key = JSON.stringify([
    env.TALLY_SECRET,
    env.TALLY_KEYS,
    env.TALLY_OPEN,
    env.TALLY_LIMITS,
    env.TALLY_STEP_EVENTS,
    env.TALLY_CACHE_BYTES,
    env.TALLY_ENCRYPTION_KEYS,
    env.TALLY_MODULES,
    Boolean(env.STEPS),
  ]);
  if (built?.key === key) return built.value;
  const value = configure(env).catch((error: unknown) => {
    built = undefined;
    throw error instanceof ConfigError ? error : new ConfigError(String((error as Error)?.message ?? error));
  });
  built = { key, value };
  return value;
}

async function configure(env: WorkerEnv): Promise<Built> {
  if (!env.TALLY_BUCKET) throw new ConfigError("no R2 bucket bound as TALLY_BUCKET (see wrangler.toml)");
  if (!env.TALLY_SECRET) throw new ConfigError("TALLY_SECRET is not set: `wrangler secret put TALLY_SECRET`");
  const keys = env.TALLY_KEYS ? json<KeyEntry[]>(env.TALLY_KEYS, "TALLY_KEYS") : undefined;
  if ((!keys || keys.length === 0) && env.TALLY_OPEN !== "true") {
    throw new ConfigError(
      "no API keys: anyone could read and write. Create one with `npm run key -- --tenant <name> --scopes " +
        "ingest,read` and store the JSON list of entries with `wrangler secret put TALLY_KEYS`.",
    );
  }
  const limitsOverride = env.TALLY_LIMITS ? json<Partial<Limits>>(env.TALLY_LIMITS, "TALLY_LIMITS") : {};
  for (const name of Object.keys(limitsOverride))
    if (!(name in DEFAULT_LIMITS)) throw new ConfigError(`TALLY_LIMITS: unknown limit "${name}"`);
  const modules = checkPolicies(
    env.TALLY_MODULES ? json<unknown>(env.TALLY_MODULES, "TALLY_MODULES") : undefined,
    "TALLY_MODULES",
  );
  const secret = new Uint8Array(new TextEncoder().encode(env.TALLY_SECRET));
  const storage = createStorage({ driver: r2Driver({ bucket: env.TALLY_BUCKET }) });
  const codec = await segmentCodec(encryptionFromEnv(env.TALLY_ENCRYPTION_KEYS));
  await checkEncryptionKeys(storage, codec);
  const store = new EventStore({
    storage,
    cacheBytes: positive(env.TALLY_CACHE_BYTES, "TALLY_CACHE_BYTES", 32 * 1024 * 1024),
    // An isolate has 128 MB: ~350 k events of one partition's fingerprints; larger partitions are searched.
    idIndexBytes: 8 * 1024 * 1024,
    codec,
    retentionDays: (module) => modules[module]?.retentionDays,
  });
  const steps = new WorkerSteps({
    store,
    secret,
    maxEvents: positive(env.TALLY_STEP_EVENTS, "TALLY_STEP_EVENTS", 1_000_000),
    remote: env.STEPS && stepObjects(env.STEPS),
  });
  const deps: ServiceDeps = {
    store,
    auth: new Authenticator(keys && keys.length > 0 ? keys : undefined, new KeyRecords(storage)),
    tokens: new PageTokens(secret),
    limits: { ...DEFAULT_LIMITS, ...limitsOverride },
    aggregate: steps.aggregations(),
    modules,
  };
  return { deps, app: createApp(deps, { assets: embeddedAssets() }), steps, modules };
}

function configFailure(error: unknown): Response {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`[tally] ${error.message}`);
  return new Response(`[tally] misconfigured Worker: ${error.message}\n`, { status: 500 });
}

/**
 * The app compresses bodies itself (Connect's gzip, gzipped export downloads) and says so in
 * `content-encoding`. workerd would compress such a body again unless told it is encoded already.
 */
function alreadyEncoded(res: Response): Response {
  if (!res.headers.has("content-encoding")) return res;
  return new Response(res.body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
    encodeBody: "manual",
  } as ResponseInit);
}

/** `application/grpc` with or without a codec suffix, not gRPC-web. */
const PLAIN_GRPC = /^application\/grpc(?:\+[\w.-]+)?\s*(?:;|$)/i;

/**
 * Plain gRPC needs HTTP/2 trailers, which a fetch Response cannot carry: a gRPC client gets a clean
 * `unimplemented` as a trailers-only response (its status in the headers), not a 200 it cannot read.
 */
function plainGrpcRefused(): Response {
  const message = "plain gRPC needs HTTP/2 trailers, which Workers cannot send: use Connect or gRPC-web";
  return new Response(null, {
    status: 200,
    headers: {
      "content-type": "application/grpc",
      "grpc-status": "12",
      "grpc-message": encodeURIComponent(message),
    },
  });
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: unknown): Promise<Response> {
    if (request.method === "POST" && PLAIN_GRPC.test(request.headers.get("content-type") ?? ""))
      return plainGrpcRefused();
    let worker: Built;
    try {
      worker = await build(env);
    } catch (error) {
      return configFailure(error);
    }
    return alreadyEncoded(await worker.app.fetch(request, env, ctx as never));
  },

  /**
   * Cron Trigger: compact the last two UTC days of every tenant's modules (store/recent-compaction.ts),
   * then the housekeeping a Node server runs on a timer — interrupted deletions, retention (retention.ts).
   */
  async scheduled(controller: { scheduledTime: number }, env: WorkerEnv): Promise<void> {
    const { deps, modules } = await build(env);
    const result = await compactRecent(deps.store, await listTenants(deps.store), controller.scheduledTime);
    const removed = await maintain(deps.store, Object.keys(modules));
    if (removed > 0) console.log(`[tally] deletions and retention removed ${removed} segment(s)`);
    console.log(
      `[tally] compacted ${result.partitions} partition(s): ${result.segmentsBefore} → ${result.segmentsAfter} segments`,
    );
    if (result.failed.length > 0)
      throw new Error(`[tally] compaction failed for ${result.failed.join("; ")}`);
  },
};

/**
 * The Durable Object class query steps run in (binding STEPS). It keeps no state: it exists because every
 * request to a Durable Object is its own invocation with its own CPU limit, whereas Workers called
 * through a service binding share the CPU resources of the request that called them.
 */
export class QueryStep {
  constructor(
    _state: unknown,
    private readonly env: WorkerEnv,
  ) {}

  async fetch(request: Request): Promise<Response> {
    try {
      return await (await build(this.env)).steps.serve(request);
    } catch (error) {
      return configFailure(error);
    }
  }
}
