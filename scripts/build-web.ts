/**
 * `npm run build:web`: builds the dashboard (web/) into web/dist with Vite. With `--if-stale` (what
 * `npm start` runs first) it builds only when web/dist is missing or older than the dashboard's sources,
 * the generated API code or the lockfile, so a start after the first is not slowed down.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isEntry } from "../functions/is-entry.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const WEB_DIST = join(ROOT, "web/dist");
const BUILT = join(WEB_DIST, "index.html");
const SOURCES = ["web/index.html", "web/vite.config.ts", "web/src", "proto/gen", "package-lock.json"];

function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), stat.mtimeMs);
}

export function isStale(): boolean {
  if (!existsSync(BUILT)) return true;
  const built = statSync(BUILT).mtimeMs;
  return SOURCES.some((source) => existsSync(join(ROOT, source)) && newest(join(ROOT, source)) > built);
}

export async function buildWeb(): Promise<void> {
  // Loaded only to build: importing Vite costs seconds that a start with a fresh build need not pay.
  const { build } = await import("vite");
  await build({ configFile: join(ROOT, "web/vite.config.ts"), logLevel: "warn" });
}

if (isEntry(import.meta.url)) {
  if (process.argv.includes("--if-stale") && !isStale()) process.exit(0);
  const started = Date.now();
  await buildWeb();
  console.log(`dashboard built into web/dist in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
