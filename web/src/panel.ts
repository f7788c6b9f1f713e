/**
 * One dashboard panel's frame: its loading, empty, error and ready states (on `data-state`, for CSS and
 * tests), a status line, and the CSV button, which exports the very request the panel last showed.
 */
import type { CreateExportLinkRequest } from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { type Api, downloadCsv, errorText, isCancel, needsKey, setApiKey } from "./api.ts";

export type PanelState = "loading" | "ready" | "empty" | "error";

export class Panel {
  readonly root: HTMLElement;
  readonly body: HTMLElement;
  private readonly status: HTMLElement;
  private readonly csv: HTMLButtonElement;
  private readonly total: HTMLElement;
  /** The export of what the panel shows now; undefined while nothing is shown. */
  exportQuery: CreateExportLinkRequest["query"] | undefined;

  constructor(
    private readonly api: Api,
    id: string,
    private readonly retry: () => void,
  ) {
    this.root = document.getElementById(id)!;
    this.body = this.root.querySelector<HTMLElement>(".body")!;
    this.status = this.root.querySelector<HTMLElement>(".status")!;
    this.total = this.root.querySelector<HTMLElement>(".total")!;
    this.csv = this.root.querySelector<HTMLButtonElement>("button.csv")!;
    this.csv.addEventListener("click", () => this.download());
  }

  private async download(): Promise<void> {
    if (!this.exportQuery) return;
    this.csv.disabled = true;
    try {
      await downloadCsv(this.api, this.exportQuery);
    } catch (error) {
      this.show("error", `CSV export failed — ${errorText(error)}`);
    } finally {
      this.csv.disabled = false;
    }
  }

  loading(): void {
    this.exportQuery = undefined;
    this.csv.disabled = true;
    this.show("loading", "Loading…");
  }

  ready(query: CreateExportLinkRequest["query"], totalText: string, empty?: string): void {
    this.exportQuery = query;
    this.csv.disabled = false;
    this.total.textContent = totalText;
    if (empty) this.show("empty", empty);
    else this.show("ready", "");
  }

  /** Shows a failed load; a cancelled one (superseded by a newer view) is not a failure. */
  failed(error: unknown): void {
    if (isCancel(error)) return;
    this.total.textContent = "";
    this.show("error", errorText(error));
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => this.retry());
    this.status.append(" ", retry);
    if (needsKey(error)) {
      const key = document.createElement("button");
      key.type = "button";
      key.textContent = "Enter API key";
      key.addEventListener("click", () => {
        const value = prompt("API key with the read scope (kept in this browser only):");
        if (value === null) return;
        setApiKey(value.trim());
        this.retry();
      });
      this.status.append(" ", key);
    }
  }

  private show(state: PanelState, text: string): void {
    this.root.dataset.state = state;
    this.status.textContent = text;
  }
}
