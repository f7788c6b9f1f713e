/**
 * The control bar: module, range, interval, time zone, the value filters and the location chip. It reads
 * and writes a DashboardState; the page decides what to reload.
 */
import {
  type DashboardState,
  FILTER_KEYS,
  type FilterKey,
  INTERVALS,
  type IntervalChoice,
  type LocationFilter,
  RANGE_PRESETS,
  type RangeChoice,
} from "./state.ts";
import { browserTimeZone, localDay } from "./time.ts";

const RANGE_LABELS: Record<RangeChoice, string> = {
  "24h": "Last 24 hours",
  "7d": "Last 7 days",
  "30d": "Last 30 days",
  "90d": "Last 90 days",
  "365d": "Last 365 days",
  custom: "Custom…",
};
const FILTER_LABELS: Record<FilterKey, string> = {
  org: "Org",
  project: "Project",
  type: "Event type",
  supply: "Supply",
  need: "Need",
};

function option(value: string, text: string): HTMLOptionElement {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  return element;
}

export function locationText(loc: LocationFilter): string {
  const f = (n: number) => n.toFixed(2);
  return loc.kind === "box"
    ? `box ${f(loc.south)}…${f(loc.north)}, ${f(loc.west)}…${f(loc.east)}`
    : `${loc.radiusKm} km around ${f(loc.lat)}, ${f(loc.lon)}`;
}

/** What changed decides what reloads: the filter values offered depend on module and range only. */
export type Change = "view" | "scope";

export class Controls {
  private state!: DashboardState;
  private readonly field = <T extends HTMLElement>(name: string) =>
    this.form.querySelector<T>(`[name="${name}"]`)!;

  constructor(
    private readonly form: HTMLFormElement,
    private readonly onChange: (state: DashboardState, change: Change) => void,
  ) {
    const range = this.field<HTMLSelectElement>("range");
    for (const preset of [...RANGE_PRESETS, "custom" as const])
      range.append(option(preset, RANGE_LABELS[preset]));
    const interval = this.field<HTMLSelectElement>("interval");
    for (const choice of INTERVALS)
      interval.append(option(choice, choice === "auto" ? "Auto" : `By ${choice}`));
    const tz = this.field<HTMLSelectElement>("tz");
    tz.append(option("", `Browser (${browserTimeZone()})`));
    const zones = new Set(["UTC", ...Intl.supportedValuesOf("timeZone")]);
    for (const zone of zones) tz.append(option(zone, zone));
    for (const key of FILTER_KEYS) {
      const details = this.form.querySelector<HTMLDetailsElement>(`details[data-filter=${key}]`)!;
      details.addEventListener("change", () => {
        const checked = [...details.querySelectorAll<HTMLInputElement>("input:checked")].map((i) => i.value);
        this.emit({ ...this.state, filters: { ...this.state.filters, [key]: checked } }, "view");
      });
    }

    this.field<HTMLInputElement>("module").addEventListener("change", (e) => {
      const value = (e.target as HTMLInputElement).value.trim();
      if (!/^[a-z][a-z0-9-]{0,62}$/.test(value)) {
        (e.target as HTMLInputElement).setCustomValidity("lower-case letters, digits and dashes");
        (e.target as HTMLInputElement).reportValidity();
        return;
      }
      (e.target as HTMLInputElement).setCustomValidity("");
      const filters = { org: [], project: [], type: [], supply: [], need: [] };
      this.emit({ ...this.state, module: value, filters }, "scope");
    });
    range.addEventListener("change", () => {
      const choice = range.value as RangeChoice;
      if (choice !== "custom") {
        this.emit({ ...this.state, range: choice, from: "", to: "" }, "scope");
        return;
      }
      // Start the custom range from the preset it replaces.
      const zone = this.state.tz || browserTimeZone();
      const today = localDay(Date.now(), zone);
      const from = localDay(Date.now() - 29 * 86_400_000, zone);
      this.emit({ ...this.state, range: "custom", from, to: today }, "scope");
    });
    for (const name of ["from", "to"] as const) {
      this.field<HTMLInputElement>(name).addEventListener("change", () => {
        const from = this.field<HTMLInputElement>("from").value;
        const to = this.field<HTMLInputElement>("to").value;
        if (from && to && from <= to) this.emit({ ...this.state, range: "custom", from, to }, "scope");
      });
    }
    interval.addEventListener("change", () =>
      this.emit({ ...this.state, interval: interval.value as IntervalChoice }, "view"),
    );
    tz.addEventListener("change", () => this.emit({ ...this.state, tz: tz.value }, "scope"));
    this.field<HTMLButtonElement>("clear-location").addEventListener("click", () =>
      this.emit({ ...this.state, location: undefined }, "view"),
    );
    this.form.addEventListener("submit", (e) => e.preventDefault());
    // An open filter list closes on a click anywhere else, as a menu would.
    document.addEventListener("click", (e) => {
      for (const details of this.form.querySelectorAll<HTMLDetailsElement>("details[open]")) {
        if (!details.contains(e.target as Node)) details.open = false;
      }
    });
  }

  private emit(state: DashboardState, change: Change): void {
    this.onChange(state, change);
  }

  /** Puts a state into the inputs. */
  show(state: DashboardState): void {
    this.state = state;
    this.field<HTMLInputElement>("module").value = state.module;
    this.field<HTMLSelectElement>("range").value = state.range;
    this.form.dataset.range = state.range;
    this.field<HTMLInputElement>("from").value = state.from;
    this.field<HTMLInputElement>("to").value = state.to;
    this.field<HTMLSelectElement>("interval").value = state.interval;
    const tz = this.field<HTMLSelectElement>("tz");
    if (state.tz !== "" && ![...tz.options].some((o) => o.value === state.tz))
      tz.append(option(state.tz, state.tz));
    tz.value = state.tz;
    const chip = this.form.querySelector<HTMLElement>(".location")!;
    chip.hidden = !state.location;
    chip.querySelector<HTMLElement>(".text")!.textContent = state.location
      ? locationText(state.location)
      : "";
    for (const key of FILTER_KEYS) {
      const details = this.form.querySelector<HTMLDetailsElement>(`details[data-filter=${key}]`)!;
      for (const input of details.querySelectorAll<HTMLInputElement>("input")) {
        input.checked = state.filters[key].includes(input.value);
      }
      this.summarise(details, key, state.filters[key].length);
    }
  }

  private summarise(details: HTMLDetailsElement, key: FilterKey, chosen: number): void {
    details.querySelector("summary")!.textContent =
      chosen > 0 ? `${FILTER_LABELS[key]} · ${chosen}` : FILTER_LABELS[key];
    details.dataset.active = String(chosen > 0);
  }

  /** The values a filter offers: those in the data, plus any chosen ones that are not (so they can be unticked). */
  setOptions(key: FilterKey, values: readonly string[]): void {
    const details = this.form.querySelector<HTMLDetailsElement>(`details[data-filter=${key}]`)!;
    const chosen = this.state.filters[key];
    const all = [...new Set([...values, ...chosen])].sort((a, b) => a.localeCompare(b));
    const list = details.querySelector<HTMLElement>(".options")!;
    list.replaceChildren(
      ...all.map((value) => {
        const label = document.createElement("label");
        const input = document.createElement("input");
        input.type = "checkbox";
        input.value = value;
        input.checked = chosen.includes(value);
        label.append(input, ` ${value}`);
        return label;
      }),
    );
    details.hidden = all.length === 0;
    this.summarise(details, key, chosen.length);
  }
}
