/**
 * `npm run key -- --tenant acme --scopes ingest,read [--name dashboard]`: makes a new API key. Prints the
 * key once (give it to the client) and the entry to add under "keys" in tally.config.json, which holds only
 * the key's SHA-256 hash.
 */
import { createHash, randomBytes } from "node:crypto";
import { SCOPES, type Scope } from "../functions/auth.ts";
import { isValidTenant } from "../store/keys.ts";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const tenant = flag("--tenant") ?? "default";
const scopes = (flag("--scopes") ?? "ingest,read").split(",").filter(Boolean) as Scope[];
const name = flag("--name");
if (!isValidTenant(tenant)) {
  console.error(`--tenant ${tenant}: use lower-case letters, digits and dashes (^[a-z0-9][a-z0-9-]{0,62}$)`);
  process.exit(2);
}
const unknown = scopes.filter((s) => !SCOPES.includes(s));
if (unknown.length || !scopes.length) {
  console.error(`--scopes: choose from ${SCOPES.join(", ")} (got ${unknown.join(", ") || "none"})`);
  process.exit(2);
}
const key = `tly_${randomBytes(24).toString("base64url")}`;
const hash = createHash("sha256").update(key).digest("hex");
console.log(`API key (shown once; send it as "Authorization: Bearer <key>"):\n\n  ${key}\n`);
console.log('Add this entry under "keys" in tally.config.json:\n');
console.log(`  ${JSON.stringify({ ...(name ? { name } : {}), hash, tenant, scopes })}`);
