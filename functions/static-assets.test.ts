import { gunzipSync } from "node:zlib";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { type AssetSource, serveAssets } from "./static-assets.ts";

const encoder = new TextEncoder();
const script = encoder.encode(`console.log(${JSON.stringify("x".repeat(5000))});`);
const files: Record<string, { body: Uint8Array; type: string }> = {
  "index.html": {
    body: encoder.encode("<!doctype html><title>Tally</title>"),
    type: "text/html; charset=utf-8",
  },
  "assets/index-abc123.js": { body: script, type: "text/javascript; charset=utf-8" },
  "assets/logo-def456.png": { body: new Uint8Array(4096).fill(7), type: "image/png" },
};
const source: AssetSource = { get: async (path) => files[path] };

function app(from: AssetSource = source) {
  const hono = new Hono();
  hono.use("*", serveAssets(from));
  hono.all("*", (c) => c.text(`next: ${c.req.method} ${c.req.path}`, 404));
  return hono;
}

describe("the dashboard's files", () => {
  it("serves index.html at / for revalidation on every load", async () => {
    const res = await app().request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("etag")).toMatch(/^"[0-9a-f]{24}"$/);
    expect(await res.text()).toBe("<!doctype html><title>Tally</title>");
  });

  it("serves hashed assets as immutable for a year, gzipped when accepted", async () => {
    const plain = await app().request("/assets/index-abc123.js");
    expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(new Uint8Array(await plain.arrayBuffer())).toEqual(script);
    const zipped = await app().request("/assets/index-abc123.js", {
      headers: { "accept-encoding": "gzip, br" },
    });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    expect(zipped.headers.get("vary")).toBe("accept-encoding");
    const body = new Uint8Array(await zipped.arrayBuffer());
    expect(body.length).toBeLessThan(script.length / 10);
    expect(new Uint8Array(gunzipSync(body))).toEqual(script);
    expect(zipped.headers.get("etag")).toBe(plain.headers.get("etag"));
  });

  it("does not gzip what is compressed already", async () => {
    const res = await app().request("/assets/logo-def456.png", { headers: { "accept-encoding": "gzip" } });
    expect(res.headers.get("content-encoding")).toBeNull();
    expect((await res.arrayBuffer()).byteLength).toBe(4096);
  });

  it("answers 304 to a matching If-None-Match, and HEAD without a body", async () => {
    const first = await app().request("/assets/index-abc123.js");
    const etag = first.headers.get("etag")!;
    const again = await app().request("/assets/index-abc123.js", {
      headers: { "if-none-match": `"x", ${etag}` },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    const head = await app().request("/", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(files["index.html"]!.body.length));
    expect(await head.text()).toBe("");
  });

  it("passes everything else on: other methods, other paths, missing assets, paths out of the folder", async () => {
    for (const [method, path] of [
      ["POST", "/"],
      ["GET", "/healthz"],
      ["GET", "/assets/missing.js"],
      ["GET", "/assets/../secret"],
      ["GET", "/assets/.env"],
      ["GET", "/assets//x.js"],
      ["GET", "/assets/%2e%2e/secret"],
      ["GET", "/assets/..%2fsecret"],
    ] as const) {
      const res = await app().request(path, { method });
      expect(await res.text(), `${method} ${path}`).toMatch(/^next: /);
    }
  });

  it("says how to build the dashboard when it is not built", async () => {
    const res = await app({ get: async () => undefined }).request("/");
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("npm run build:web");
  });
});
