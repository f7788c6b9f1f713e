/** The export suite (functions/export-suite.ts) against the Worker bundle on workerd. */
import { afterAll } from "vitest";
import { exportSuite } from "../../functions/export-suite.ts";
import { BASE_URL, startWorker, type TestWorker } from "../worker-miniflare.ts";

let worker: TestWorker | undefined;
afterAll(() => worker?.dispose());

exportSuite("on workerd", async () => {
  // Small query steps: series and geo exports run as many steps too.
  const w = await startWorker({ bindings: { TALLY_OPEN: "true", TALLY_STEP_EVENTS: "500" } });
  worker = w;
  return {
    transport: w.transport("connect", { binary: true }),
    fetch: (path, init) => w.fetch(`${BASE_URL}${path}`, init),
    decodes: true,
    now: () => Date.now(),
  };
});
