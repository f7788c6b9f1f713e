/** The export suite (export-suite.ts) in process, on a clock the test moves. */
import { createRouterTransport } from "@connectrpc/connect";
import { createApp } from "./app.ts";
import { exportSuite } from "./export-suite.ts";
import { routerOptions, routes } from "./routes.ts";
import { testDeps } from "./test-deps.ts";

let clock = Date.UTC(2026, 6, 1);
const deps = testDeps({ now: () => clock });
const app = createApp(deps);

exportSuite("in process", async () => ({
  transport: createRouterTransport((router) => routes(router, deps), { router: routerOptions(deps) }),
  fetch: async (path, init) => app.request(path, init),
  decodes: false,
  now: () => clock,
  advance: (ms) => {
    clock += ms;
  },
}));
