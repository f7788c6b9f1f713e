/** The reference suite (reference-suite.ts) in process, through a router transport (no HTTP). */
import { createRouterTransport } from "@connectrpc/connect";
import { routerOptions, routes } from "../functions/routes.ts";
import { testDeps } from "../functions/test-deps.ts";
import { referenceSuite } from "./reference-suite.ts";

referenceSuite("in process", () => {
  const deps = testDeps();
  return createRouterTransport((router) => routes(router, deps), { router: routerOptions(deps) });
});
