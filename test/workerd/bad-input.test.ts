/** The bad-input suite (functions/bad-input-suite.ts) against the Worker bundle on workerd. */
import { afterAll, beforeAll } from "vitest";
import { BAD_INPUT_LIMITS, badInputSuite } from "../../functions/bad-input-suite.ts";
import { BASE_URL, startWorker, type TestWorker } from "../worker-miniflare.ts";

let worker: TestWorker;
beforeAll(async () => {
  worker = await startWorker({
    bindings: { TALLY_OPEN: "true", TALLY_LIMITS: JSON.stringify(BAD_INPUT_LIMITS) },
  });
});
afterAll(() => worker.dispose());

badInputSuite("on workerd", () => (path, init) => worker.fetch(`${BASE_URL}${path}`, init));
