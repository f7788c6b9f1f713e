/**
 * Copies a tenant's events out of a running server — whatever store is behind it, a Worker's R2 bucket
 * included — by paging through ListEvents, module by module, into a data directory or another server.
 * The source key decides the tenant; the modules are named by the caller (the API lists no tenant's
 * modules). Each module is read from one snapshot (its page tokens carry it), so events recorded during
 * the copy are left for a later run rather than half taken.
 *
 * Every event keeps its id and time, so storing one again is a duplicate, never a second event: a copy
 * that stopped is resumed by running it again, and a state file of finished modules and the page reached
 * lets the rerun skip what was done. Nothing is lost: every event listed is acknowledged by the
 * destination (accepted, or a duplicate of one already there), checked batch by batch.
 */
import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Event, Order } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import type { EventStore } from "../store/event-store.ts";
import type { JsonObject, StoredEvent } from "../store/json.ts";
import type { TelemetryClient } from "./client.ts";
import { CliError } from "./errors.ts";
import { readStateFile, writeStateFile } from "./state-file.ts";

/** Where the events go: a module's batch stored, its acknowledgement returned. */
export type Destination = (
  module: string,
  events: Event[],
) => Promise<{ accepted: number; duplicates: number }>;

/** A data directory's store, for `tenant`. */
export function storeDestination(store: EventStore, tenant: string): Destination {
  return (module, events) =>
    store.record(
      tenant,
      module,
      events.map(
        (e): StoredEvent => ({
          id: e.id,
          type: e.type,
          time: timestampDate(e.time!).getTime(),
          data: (e.data ?? {}) as JsonObject,
          lat: e.location ? e.location.lat : Number.NaN,
          lon: e.location ? e.location.lon : Number.NaN,
        }),
      ),
    );
}

/** Another server, through RecordEvents (its key decides the tenant there). */
export function serverDestination(client: TelemetryClient): Destination {
  return (module, events) => client.recordEvents({ module, events });
}

interface State {
  from: string;
  to: string;
  /** Per module: "done", or the page token to go on from. */
  modules: Record<string, string>;
}

export interface ModuleCopy {
  module: string;
  listed: number;
  accepted: number;
  duplicates: number;
  skipped: boolean;
}

/** The whole range a query may ask for (1970 to 9999): every event of a module. */
const EVERYTHING = {
  start: timestampFromMs(0),
  end: timestampFromMs(253_402_300_799_999), // 9999-12-31T23:59:59.999Z
};

export async function migrateFromServer(
  source: TelemetryClient,
  modules: readonly string[],
  destination: Destination,
  options: {
    from: string;
    to: string;
    statePath?: string;
    onPage?: (module: string, listed: number) => void;
  },
): Promise<ModuleCopy[]> {
  const state = loadState(options.statePath, options.from, options.to);
  const copies: ModuleCopy[] = [];
  for (const module of modules) {
    const copy: ModuleCopy = { module, listed: 0, accepted: 0, duplicates: 0, skipped: false };
    copies.push(copy);
    let pageToken = state.modules[module] ?? "";
    if (pageToken === "done") {
      copy.skipped = true;
      continue;
    }
    do {
      const page = await source.listEvents({
        module,
        range: EVERYTHING,
        order: Order.ASC,
        pageSize: 1_000,
        pageToken,
      });
      if (page.events.length > 0) {
        const ack = await destination(module, page.events);
        if (ack.accepted + ack.duplicates !== page.events.length)
          throw new CliError(
            `${module}: the destination acknowledged ${ack.accepted + ack.duplicates} of ${page.events.length} events`,
          );
        copy.listed += page.events.length;
        copy.accepted += ack.accepted;
        copy.duplicates += ack.duplicates;
      }
      pageToken = page.nextPageToken;
      state.modules[module] = pageToken || "done";
      if (options.statePath) await writeStateFile(options.statePath, state);
      options.onPage?.(module, copy.listed);
    } while (pageToken);
  }
  return copies;
}

function loadState(path: string | undefined, from: string, to: string): State {
  const state = readStateFile<State>(path);
  if (!state) return { from, to, modules: {} };
  if (state.from !== from || state.to !== to || typeof state.modules !== "object")
    throw new CliError(
      `--state ${path} belongs to another migration (${state.from} to ${state.to}); use another file`,
    );
  return state;
}
