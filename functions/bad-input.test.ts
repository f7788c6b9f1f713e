/** The bad-input suite (bad-input-suite.ts) against the Hono app in process. */
import { createApp } from "./app.ts";
import { BAD_INPUT_LIMITS, badInputSuite } from "./bad-input-suite.ts";
import { testDeps } from "./test-deps.ts";

const app = createApp(testDeps({ limits: BAD_INPUT_LIMITS }));
badInputSuite("in process", () => async (path, init) => app.request(path, init));
