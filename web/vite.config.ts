/**
 * The dashboard's build: `npm run build:web` writes web/dist, which the server serves at `/`. For work on
 * the page itself, `npx vite web` serves it with hot reload and passes the API calls to a Tally on :8787.
 */
import { defineConfig } from "vite";

const API = "http://127.0.0.1:8787";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // One chunk of ~1 MB minified (ECharts is most of it); the size that matters, gzipped, is tested.
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: { "/telemetry.v1.TelemetryService": API, "/exports": API },
  },
});
