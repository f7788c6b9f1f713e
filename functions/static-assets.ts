/**
 * The dashboard's files, served by the app on every runtime. Where the bytes come from is the runtime's
 * business (a folder on Node, the Workers asset binding); this middleware only decides the headers:
 * Vite's content-hashed files under `assets/` never change, so browsers keep them a year, while
 * `index.html` (which names the current hashes) is revalidated on every load.
 */
import type { MiddlewareHandler } from "hono";

/** A read-only file source: `path` is relative to the build root, without a leading slash ("index.html"). */
export interface AssetSource {
  get(path: string): Promise<{ body: Uint8Array; type: string } | undefined>;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  woff2: "font/woff2",
  map: "application/json",
};

/** The content type of a dashboard file, by its extension. */
export function contentType(path: string): string {
  const dot = path.lastIndexOf(".");
  return (dot >= 0 && TYPES[path.slice(dot + 1)]) || "application/octet-stream";
}

const IMMUTABLE = "public, max-age=31536000, immutable";
/** Types worth gzipping; images and fonts are compressed already. */
const COMPRESSIBLE = /^(text\/|application\/(javascript|json|xml)|image\/svg)/;

interface Prepared {
  etag: string;
  gzip?: Uint8Array;
}

async function etagOf(body: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>));
  let hex = "";
  for (const byte of digest.subarray(0, 12)) hex += byte.toString(16).padStart(2, "0");
  return `"${hex}"`;
}

async function gzip(body: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([body as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The file a request path names, or undefined when it cannot be a dashboard file. */
function assetPath(requestPath: string): string | undefined {
  if (requestPath === "/" || requestPath === "/index.html") return "index.html";
  if (!requestPath.startsWith("/assets/")) return undefined;
  const path = requestPath.slice(1);
  // No way out of the build folder, and nothing hidden.
  if (path.split("/").some((part) => part === "" || part.startsWith("."))) return undefined;
  return path;
}

/** GET and HEAD of `/` and `/assets/*` from `source`; anything else goes on to the next handler. */
export function serveAssets(source: AssetSource): MiddlewareHandler {
  // Keyed by the body itself: a source that returns the same bytes object is prepared once.
  const prepared = new WeakMap<Uint8Array, Promise<Prepared>>();
  const prepare = (body: Uint8Array, type: string): Promise<Prepared> => {
    let entry = prepared.get(body);
    if (!entry) {
      entry = (async () => ({
        etag: await etagOf(body),
        gzip: COMPRESSIBLE.test(type) && body.length > 1024 ? await gzip(body) : undefined,
      }))();
      prepared.set(body, entry);
    }
    return entry;
  };

  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return next();
    const path = assetPath(c.req.path);
    if (path === undefined) return next();
    const file = await source.get(path);
    if (!file) {
      if (path !== "index.html") return next();
      return c.text("The dashboard is not built: run `npm run build:web`, then reload.\n", 404);
    }
    const { etag, gzip: zipped } = await prepare(file.body, file.type);
    const headers = new Headers({
      "content-type": file.type,
      "cache-control": path.startsWith("assets/") ? IMMUTABLE : "no-cache",
      etag,
      vary: "accept-encoding",
    });
    const match = c.req.header("if-none-match");
    if (match?.split(",").some((tag) => tag.trim() === etag))
      return new Response(null, { status: 304, headers });
    let body = file.body;
    if (zipped && /\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) {
      body = zipped;
      headers.set("content-encoding", "gzip");
    }
    headers.set("content-length", String(body.length));
    return new Response(c.req.method === "HEAD" ? null : (body as Uint8Array<ArrayBuffer>), { headers });
  };
}
