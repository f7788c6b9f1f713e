/**
 * The dashboard page: the state comes from the URL, every change goes back into it (so a view can be
 * shared and reloaded), and each change reloads the panels. A newer view cancels the calls of an older one.
 */
import "./style.css";
import { allSeriesRows, createApi, isCancel } from "./api.ts";
import { type Change, Controls } from "./controls.ts";
import { debug } from "./debug.ts";
import { EventsPanel } from "./events-panel.ts";
import { MapPanel } from "./map-panel.ts";
import { type QueryContext, queryContext, valuesRequest } from "./requests.ts";
import { BreakdownPanel, TypesPanel, UsersPanel } from "./series-panels.ts";
import {
  BREAKDOWNS,
  type BreakdownKey,
  type DashboardState,
  encodeState,
  FILTER_KEYS,
  parseState,
} from "./state.ts";
import { browserTimeZone, isTimeZone, resolveRange } from "./time.ts";

const api = createApi();
const notice = document.querySelector<HTMLElement>("#link-notice")!;

/**
 * The view the address bar's link describes. What the link holds that cannot be used (a hand-edited
 * `range=bogus`, an unknown time zone) is named on the page and dropped from the address, so that the
 * address and the page agree and a link shared from here is the view on screen.
 */
function linkState(): DashboardState {
  const ignored: string[] = [];
  const parsed = parseState(location.search, ignored);
  notice.hidden = ignored.length === 0;
  notice.textContent =
    ignored.length === 0
      ? ""
      : `Left out of this link, not understood: ${ignored.join(", ")}. Showing the defaults instead.`;
  if (ignored.length > 0) history.replaceState(null, "", `${location.pathname}${encodeState(parsed)}`);
  return parsed;
}

let state = linkState();
/** The calls of the current view, and (apart, since the breakdown field reloads that panel alone) its breakdown's. */
let current: AbortController | undefined;
let currentBreakdown: AbortController | undefined;
/** The loads of the current view's other panels: a breakdown change has settled only when they have. */
let viewLoads: Promise<unknown> = Promise.resolve();

const reload = () => refresh("scope");
const controls = new Controls(document.querySelector<HTMLFormElement>("#controls")!, (next, change) =>
  navigate(next, change),
);
const types = new TypesPanel(api, reload);
const users = new UsersPanel(api, reload);
const breakdown = new BreakdownPanel(api, reload);
const map = new MapPanel(
  api,
  reload,
  (location) => navigate({ ...state, location }, "view"),
  // A zoom or pan reloads the map alone (map-panel.ts); the URL only follows it, without a history entry
  // per wheel step.
  (view) => show({ ...state, map: view }, "replace"),
);
const events = new EventsPanel(api, reload);

const by = document.querySelector<HTMLSelectElement>("select[name=by]")!;
by.addEventListener("change", () => {
  if ((BREAKDOWNS as readonly string[]).includes(by.value)) {
    navigate({ ...state, breakdown: by.value as BreakdownKey }, "breakdown");
  }
});

function navigate(next: DashboardState, change: Change | "breakdown"): void {
  notice.hidden = true;
  show(next, "push");
  refresh(change);
}

/** Makes `next` the state and the URL: a new history entry, or (a map's zoom) in place of the last. */
function show(next: DashboardState, entry: "push" | "replace"): void {
  // The view is what its URL says (coordinates rounded as written), so that a reload shows the same.
  const search = encodeState(next);
  state = parseState(search);
  if (search === location.search) return;
  if (entry === "push") history.pushState(null, "", `${location.pathname}${search}`);
  else history.replaceState(null, "", `${location.pathname}${search}`);
}

window.addEventListener("popstate", () => {
  state = linkState();
  refresh("scope");
});

async function loadOptions(ctx: QueryContext, signal: AbortSignal): Promise<void> {
  await Promise.all(
    FILTER_KEYS.map(async (key) => {
      try {
        const rows = await allSeriesRows(api, valuesRequest(ctx, key), signal);
        const values = rows.filter((r) => r.value > 0 && r.group[0]).map((r) => r.group[0]!);
        debug.options[key] = values;
        controls.setOptions(key, values);
      } catch (error) {
        // The panels show the failure (they make the same kind of call); the filter keeps its old values.
        if (!isCancel(error)) console.warn(`filter values for ${key}:`, error);
      }
    }),
  );
}

async function refresh(change: Change | "breakdown"): Promise<void> {
  // A new breakdown field cancels only the breakdown's calls: the map's zoom and the table's pages keep
  // using the view's signal, which must stay live.
  currentBreakdown?.abort();
  currentBreakdown = new AbortController();
  if (change !== "breakdown" || !current) {
    current?.abort();
    current = new AbortController();
  }
  const view = ++debug.view;
  const tz = state.tz !== "" && isTimeZone(state.tz) ? state.tz : browserTimeZone();
  const now = Date.now();
  const ctx = queryContext(state, tz, resolveRange(state, tz, now), now);
  controls.show(state);
  by.value = state.breakdown;
  const signal = current.signal;
  if (change !== "breakdown") {
    viewLoads = Promise.allSettled([
      types.load(ctx, signal),
      users.load(ctx, signal),
      map.load(ctx, signal),
      events.load(ctx, signal),
      ...(change === "scope" ? [loadOptions(ctx, signal)] : []),
    ]);
  }
  await Promise.allSettled([breakdown.load(ctx, currentBreakdown.signal), viewLoads]);
  if (debug.view === view) {
    debug.settled = view;
    document.documentElement.dataset.settled = String(view);
  }
}

void refresh("scope");
