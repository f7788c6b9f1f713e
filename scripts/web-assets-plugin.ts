/**
 * An esbuild plugin that makes the virtual module `tally:web-assets` (functions/embedded-assets.ts): every
 * file of the built dashboard, base64 text with its content type, so the Worker serves the same page as
 * Node without an asset binding. The dashboard is built first when web/dist is missing or stale.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { Plugin } from "esbuild";
import { contentType } from "../functions/static-assets.ts";
import { buildWeb, isStale, WEB_DIST } from "./build-web.ts";

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

export function webAssetsPlugin(): Plugin {
  return {
    name: "tally-web-assets",
    setup(build) {
      build.onResolve({ filter: /^tally:web-assets$/ }, () => ({ path: "web-assets", namespace: "tally" }));
      build.onLoad({ filter: /.*/, namespace: "tally" }, async () => {
        if (isStale()) await buildWeb();
        const files: Record<string, { type: string; base64: string }> = {};
        for (const path of filesUnder(WEB_DIST)) {
          const name = relative(WEB_DIST, path).split("\\").join("/");
          files[name] = { type: contentType(name), base64: readFileSync(path).toString("base64") };
        }
        return { contents: `export default ${JSON.stringify(files)};`, loader: "js" };
      });
    },
  };
}
