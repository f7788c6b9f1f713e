/**
 * `window.__tally`: what each panel asked and got, as plain JSON, so that tests (and a curious developer
 * in the console) can compare the page with the API. `settled` is the number of the last view whose
 * panels have all finished loading.
 */
import type { JsonValue } from "@bufbuild/protobuf";

export interface PanelDebug {
  request: JsonValue;
  /** Series panels: [bucketStart ms, group, value]; map: [lat, lon, count]; table: the page's event ids. */
  data: unknown[];
  total?: number;
}

export interface TallyDebug {
  view: number;
  settled: number;
  panels: Record<string, PanelDebug>;
  /** Filter values offered, by filter key. */
  options: Record<string, string[]>;
}

declare global {
  interface Window {
    __tally: TallyDebug;
  }
}

export const debug: TallyDebug = { view: 0, settled: 0, panels: {}, options: {} };
window.__tally = debug;
