/**
 * Service dependencies for tests: a memory store (or a given storage), open or keyed auth (keys from
 * "configuration" and, as on a server, keys stored in the store), a fixed secret.
 */
import { createStorage, type Storage } from "unstorage";
import { memoryDriver } from "../storage-drivers/memory.ts";
import type { SegmentCodec } from "../store/encryption.ts";
import { EventStore } from "../store/event-store.ts";
import { KeyRecords } from "../store/key-records.ts";
import { Authenticator, type KeyEntry } from "./auth.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import type { ModulePolicies } from "./module-policy.ts";
import { PageTokens } from "./page-token.ts";
import type { ServiceDeps } from "./service.ts";

export function testDeps(
  options: {
    storage?: Storage;
    keys?: KeyEntry[];
    limits?: Partial<Limits>;
    now?: () => number;
    modules?: ModulePolicies;
    codec?: SegmentCodec;
  } = {},
): ServiceDeps {
  const storage = options.storage ?? createStorage({ driver: memoryDriver() });
  const modules = options.modules ?? {};
  return {
    store: new EventStore({
      storage,
      ...(options.now ? { now: options.now } : {}),
      ...(options.codec ? { codec: options.codec } : {}),
      retentionDays: (module) => modules[module]?.retentionDays,
    }),
    auth: new Authenticator(options.keys, new KeyRecords(storage)),
    tokens: new PageTokens(new TextEncoder().encode("test secret, not for production")),
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    modules,
  };
}
