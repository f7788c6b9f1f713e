/**
 * `npm run build:worker`: bundles functions/worker.ts into one ES module (dist/worker.js) for workerd,
 * the way wrangler would: browser platform, the `workerd`/`worker`/`browser` export conditions. wrangler.toml
 * deploys that file as it is (`no_bundle`), and Miniflare (`npm run start:worker`, the workerd tests) runs it.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { isEntry } from "../functions/is-entry.ts";
import { webAssetsPlugin } from "./web-assets-plugin.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const BUNDLE = `${ROOT}dist/worker.js`;

/** Bundles the Worker to `outfile` and returns its size in bytes. */
export async function buildWorker(outfile: string = BUNDLE): Promise<number> {
  const result = await build({
    entryPoints: [`${ROOT}functions/worker.ts`],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    sourcemap: true,
    metafile: true,
    logLevel: "warning",
    plugins: [webAssetsPlugin()],
  });
  return Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
}

/** `compatibility_date` and `compatibility_flags` from wrangler.toml, so Miniflare runs what deploys. */
export function wranglerCompatibility(): { compatibilityDate: string; compatibilityFlags: string[] } {
  const toml = readFileSync(`${ROOT}wrangler.toml`, "utf8");
  const date = /^compatibility_date\s*=\s*"([\d-]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1];
  if (!date) throw new Error("wrangler.toml has no compatibility_date");
  return {
    compatibilityDate: date,
    compatibilityFlags: [...(flags ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1]!),
  };
}

if (isEntry(import.meta.url)) {
  const bytes = await buildWorker();
  console.log(`built ${BUNDLE} (${(bytes / 1024).toFixed(0)} KiB with its source map)`);
}
