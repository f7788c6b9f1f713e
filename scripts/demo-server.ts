/**
 * `npm run demo`: `npm start` with a demo data set, so a newcomer sees charts at once. It starts the
 * server, records the same data as `tally demo` (20,000 events over the last 90 days into sys-account and
 * mod-disco; re-running the same day adds nothing twice) and prints the dashboard's address.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { startNode } from "../functions/node.ts";

const server = await startNode();
const stop = () => server.close().then(() => process.exit(0));
process.once("SIGINT", stop);
process.once("SIGTERM", stop);

const cli = fileURLToPath(new URL("../cli/bin/tally.mjs", import.meta.url));
const demo = spawn(process.execPath, [cli, "demo", "--server", server.url], { stdio: "inherit" });
const [code] = (await once(demo, "exit")) as [number | null];
if (code !== 0) console.error(`tally demo exited with ${code}; the server keeps running`);
console.log(`\nDashboard: ${server.url}/   (Ctrl-C to stop)`);
