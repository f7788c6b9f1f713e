/**
 * Service dependencies for tests: a memory store (or a given storage), open or keyed auth, a fixed secret.
 */
import { createStorage, type Storage } from "unstorage";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { EventStore } from "../store/event-store.ts";
import { Authenticator, type KeyEntry } from "./auth.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { PageTokens } from "./page-token.ts";
import type { ServiceDeps } from "./service.ts";

export function testDeps(
  options: { storage?: Storage; keys?: KeyEntry[]; limits?: Partial<Limits>; now?: () => number } = {},
): ServiceDeps {
  return {
    store: new EventStore({
      storage: options.storage ?? createStorage({ driver: memoryDriver() }),
      ...(options.now ? { now: options.now } : {}),
    }),
    auth: new Authenticator(options.keys),
    tokens: new PageTokens(new TextEncoder().encode("test secret, not for production")),
    limits: { ...DEFAULT_LIMITS, ...options.limits },
  };
}
