/**
 * The raw events, newest first, a page at a time (ListEvents and its page tokens). The CSV button exports
 * every event of the query, not just the page on screen.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Event } from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import type { Api } from "./api.ts";
import { debug } from "./debug.ts";
import { Panel } from "./panel.ts";
import { eventsRequest, json, type QueryContext } from "./requests.ts";
import { timeLabel } from "./time.ts";

const SHOWN = ["org", "project", "userId"] as const;

function text(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export class EventsPanel {
  private readonly panel: Panel;
  private readonly tbody: HTMLTableSectionElement;
  private readonly pageLabel: HTMLElement;
  private readonly newer: HTMLButtonElement;
  private readonly older: HTMLButtonElement;
  /** tokens[i] is the page token of page i; the next page's token is pushed when known. */
  private tokens: string[] = [""];
  private page = 0;
  private ctx: QueryContext | undefined;
  private signal: AbortSignal | undefined;

  constructor(
    private readonly api: Api,
    retry: () => void,
  ) {
    this.panel = new Panel(api, "panel-events", retry);
    this.tbody = this.panel.root.querySelector("tbody")!;
    this.pageLabel = this.panel.root.querySelector<HTMLElement>(".page")!;
    this.newer = this.panel.root.querySelector<HTMLButtonElement>("button[name=newer]")!;
    this.older = this.panel.root.querySelector<HTMLButtonElement>("button[name=older]")!;
    this.newer.addEventListener("click", () => this.turn(-1));
    this.older.addEventListener("click", () => this.turn(1));
  }

  private turn(step: number): void {
    if (!this.ctx || !this.signal) return;
    this.page += step;
    void this.fetchPage(this.ctx, this.signal);
  }

  load(ctx: QueryContext, signal: AbortSignal): Promise<void> {
    this.tokens = [""];
    this.page = 0;
    return this.fetchPage(ctx, signal);
  }

  private async fetchPage(ctx: QueryContext, signal: AbortSignal): Promise<void> {
    this.ctx = ctx;
    this.signal = signal;
    const request = eventsRequest(ctx, this.tokens[this.page]);
    this.panel.loading();
    this.newer.disabled = this.older.disabled = true;
    try {
      const answer = await this.api.listEvents(request, { signal });
      this.tokens[this.page + 1] = answer.nextPageToken;
      this.render(answer.events, ctx.tz);
      debug.panels.events = { request: json.events(request), data: answer.events.map((e) => e.id) };
      this.newer.disabled = this.page === 0;
      this.older.disabled = answer.nextPageToken === "";
      this.pageLabel.textContent = `page ${this.page + 1}`;
      this.panel.ready(
        { case: "events", value: eventsRequest(ctx) },
        "",
        answer.events.length === 0 ? "No events match this range and these filters." : undefined,
      );
    } catch (error) {
      this.panel.failed(error);
    }
  }

  private render(events: Event[], tz: string): void {
    const rows = events.map((event) => {
      const data: JsonObject = event.data ?? {};
      const rest = Object.fromEntries(
        Object.entries(data).filter(([k]) => !(SHOWN as readonly string[]).includes(k)),
      );
      const loc = event.location ? `${event.location.lat.toFixed(3)}, ${event.location.lon.toFixed(3)}` : "";
      const cells = [
        event.time ? timeLabel(timestampMs(event.time), tz) : "",
        event.type,
        ...SHOWN.map((key) => text(data[key])),
        loc,
        Object.keys(rest).length > 0 ? JSON.stringify(rest) : "",
      ];
      const tr = document.createElement("tr");
      for (const value of cells) {
        const td = document.createElement("td");
        td.textContent = value;
        td.title = value;
        tr.append(td);
      }
      return tr;
    });
    this.tbody.replaceChildren(...rows);
  }
}
