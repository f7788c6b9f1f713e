/**
 * The drivers that have the optional capabilities (ranges.ts, prefixes.ts), each made fresh for a test —
 * R2 as Miniflare's real R2 — with what they leave behind removed after the file's tests.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import type { Driver } from "unstorage";
import { afterAll } from "vitest";
import { fsAtomicDriver } from "./fs-atomic.ts";
import { memoryDriver } from "./memory.ts";
import { type R2BucketLike, r2Driver } from "./r2.ts";

export function capableDrivers(name: string): Record<string, () => Promise<Driver>> {
  const dirs: string[] = [];
  const flares: Miniflare[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    for (const mf of flares) await mf.dispose();
  });
  return {
    "fs-atomic": async () => {
      const dir = await mkdtemp(join(tmpdir(), `tally-${name}-`));
      dirs.push(dir);
      return fsAtomicDriver({ base: dir });
    },
    memory: async () => memoryDriver(),
    "r2 (miniflare)": async () => {
      const mf = new Miniflare({
        modules: true,
        script: "export default { fetch: () => new Response('') };",
        compatibilityDate: "2026-04-01",
        r2Buckets: ["BUCKET"],
      });
      flares.push(mf);
      return r2Driver({ bucket: (await mf.getR2Bucket("BUCKET")) as unknown as R2BucketLike });
    },
  };
}
