/**
 * Copies a tenant's events from a data directory to a running server through RecordEvents — to any store
 * behind any server (another disk, a Worker on R2). Every event keeps its id and time, so sending one
 * again is a duplicate, never a second event: a migration that stopped is resumed by running it again,
 * and a state file of finished partitions lets the rerun skip them. Nothing is lost: every event is
 * acknowledged (accepted, or a duplicate of one already there), and the totals are checked at the end.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { EventSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { duplicateMasks } from "../store/dedup.ts";
import type { EventStore } from "../store/event-store.ts";
import { listModules } from "../store/retention.ts";
import type { TelemetryClient } from "./client.ts";
import { CliError } from "./errors.ts";
import { readStateFile, writeStateFile } from "./state-file.ts";

interface State {
  tenant: string;
  to: string;
  /** `module/day` partitions sent completely. */
  done: string[];
}

export interface ServerMigration {
  partitions: number;
  skipped: number;
  sent: number;
  accepted: number;
  duplicates: number;
}

export async function migrateToServer(
  source: EventStore,
  tenant: string,
  client: TelemetryClient,
  options: {
    to: string;
    statePath?: string;
    batchSize: number;
    onPartition?: (p: string, sent: number) => void;
  },
): Promise<ServerMigration> {
  const state: State = loadState(options.statePath, tenant, options.to);
  const done = new Set(state.done);
  const result: ServerMigration = { partitions: 0, skipped: 0, sent: 0, accepted: 0, duplicates: 0 };
  for (const module of await listModules(source, tenant)) {
    for (const day of await source.days(tenant, module)) {
      const name = `${module}/${day}`;
      result.partitions++;
      if (done.has(name)) {
        result.skipped++;
        continue;
      }
      const { live } = await source.partitionState(tenant, module, day, undefined, false);
      const masks = duplicateMasks(live.map((s) => s.segment));
      let batch: MessageInitShape<typeof EventSchema>[] = [];
      let sent = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const res = await client.recordEvents({ module, events: batch });
        if (res.accepted + res.duplicates !== batch.length)
          throw new CliError(
            `${name}: the server acknowledged ${res.accepted + res.duplicates} of ${batch.length} events`,
          );
        result.sent += batch.length;
        result.accepted += res.accepted;
        result.duplicates += res.duplicates;
        sent += batch.length;
        batch = [];
      };
      for (const [i, { segment }] of live.entries()) {
        const mask = masks[i];
        for (let r = 0; r < segment.count; r++) {
          if (mask?.[r]) continue;
          const e = segment.event(r);
          batch.push({
            id: e.id,
            type: e.type,
            time: timestampFromMs(e.time),
            data: e.data,
            ...(Number.isNaN(e.lat) ? {} : { location: { lat: e.lat, lon: e.lon } }),
          });
          if (batch.length >= options.batchSize) await flush();
        }
      }
      await flush();
      done.add(name);
      state.done = [...done];
      if (options.statePath) await writeStateFile(options.statePath, state);
      options.onPartition?.(name, sent);
    }
  }
  return result;
}

function loadState(path: string | undefined, tenant: string, to: string): State {
  const state = readStateFile<State>(path);
  if (!state) return { tenant, to, done: [] };
  if (state.tenant !== tenant || state.to !== to)
    throw new CliError(
      `--state ${path} belongs to a migration of ${state.tenant} to ${state.to}; use another file`,
    );
  return state;
}
