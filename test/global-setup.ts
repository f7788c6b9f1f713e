/**
 * Builds the dashboard once, before any test file runs, when web/dist is missing or older than its
 * sources: the browser tests serve it and the Worker bundle embeds it, and two builds racing in parallel
 * test files would empty web/dist under each other.
 */
import { buildWeb, isStale } from "../scripts/build-web.ts";

export default async function setup(): Promise<void> {
  if (isStale()) await buildWeb();
}
