import type { EventStore } from "../store/event-store.ts";
import { exportCsv } from "../store/export.ts";
import type { ListSpec } from "../store/query-spec.ts";

/** An events export of `spec` with `columns` (none: every data path), as one text without a BOM. */
export async function exportedEvents(store: EventStore, spec: ListSpec, columns: string[]): Promise<string> {
  let out = "";
  for await (const chunk of exportCsv(
    store,
    { kind: "events", spec, columns },
    { bom: false, limits: { maxGroups: 100 } },
  ))
    out += chunk;
  return out;
}
