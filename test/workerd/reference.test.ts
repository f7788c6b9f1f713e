/**
 * The reference suite on workerd: the Worker bundle in Miniflare over R2, once through the Connect protocol
 * (JSON) and once through gRPC-web (binary). Query steps are tiny (TALLY_STEP_EVENTS = 300), so every
 * aggregation runs as many steps, each in a fresh Durable Object (binding STEPS), and must still equal
 * the model.
 */
import { afterAll } from "vitest";
import { referenceSuite } from "../reference-suite.ts";
import { startWorker, type TestWorker } from "../worker-miniflare.ts";

const workers: TestWorker[] = [];
afterAll(() => Promise.all(workers.map((w) => w.dispose())));

async function worker(): Promise<TestWorker> {
  const w = await startWorker({ bindings: { TALLY_OPEN: "true", TALLY_STEP_EVENTS: "300" } });
  workers.push(w);
  return w;
}

referenceSuite("on workerd, Connect JSON", async () => (await worker()).transport("connect"));
referenceSuite("on workerd, gRPC-web", async () => (await worker()).transport("grpc-web"));
