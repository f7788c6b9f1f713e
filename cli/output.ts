/**
 * Where answers go: stdout carries only data (tables for people, JSON for programs), stderr carries hints,
 * progress and errors, so `tally events -o ndjson | jq` never sees anything but events.
 */
import cliProgress from "cli-progress";
import Table from "cli-table3";

export type Format = "table" | "json" | "ndjson";

/** proto3 JSON as the server writes it: zeros and empty strings are answers, not absences. */
export const JSON_OPTIONS = { alwaysEmitImplicit: true } as const;

/** The `-o` format, or a table on a terminal and JSON in a pipe. */
export function outputFormat(option: string | undefined): Format {
  if (option === "table" || option === "json" || option === "ndjson") return option;
  return process.stdout.isTTY ? "table" : "json";
}

/** Writes to stdout, waiting when the pipe is full, so that large outputs stream in bounded memory. */
export async function out(text: string): Promise<void> {
  if (!process.stdout.write(text)) {
    await new Promise<void>((resolve) => process.stdout.once("drain", resolve));
  }
}

export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** A line on stderr: hints and notes that must not mix with the data. */
export function note(text: string): void {
  process.stderr.write(`tally: ${text}\n`);
}

export function tableText(head: string[], rows: string[][]): string {
  const table = new Table({
    head,
    // Bold headings only where they render; no rule between rows, so that long series stay readable.
    style: { head: process.stdout.isTTY ? ["bold"] : [], border: [] },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
  for (const row of rows) table.push(row);
  return `${table.toString()}\n`;
}

export interface Progress {
  /** Sets the count done (and the total, once known). */
  update(value: number, payload?: Record<string, string>): void;
  stop(): void;
}

const NO_PROGRESS: Progress = { update() {}, stop() {} };

/**
 * A progress bar on stderr, only on a terminal: in a pipe or a log it would be noise. Without a total
 * (an export whose size is unknown) it shows counts only.
 */
export function progressBar(label: string, total: number | undefined, unit: string): Progress {
  if (!process.stderr.isTTY) return NO_PROGRESS;
  const format =
    total === undefined
      ? `${label} {value} ${unit} {extra}`
      : `${label} [{bar}] {percentage}% {value}/{total} ${unit} {extra} eta {eta_formatted}`;
  const bar = new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total ?? 0, 0, { extra: "" });
  return {
    update: (value, payload) => bar.update(value, { extra: "", ...payload }),
    stop: () => bar.stop(),
  };
}

/** `bytes` as 1.2 MB and the like. */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** An instant as wall-clock time in `zone`: `2026-03-01 00:00`, or just the date when `dateOnly`. */
export function formatInZone(ms: number, zone: string, dateOnly: boolean): string {
  const format = new Intl.DateTimeFormat("sv-SE", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    ...(dateOnly ? {} : { hour: "2-digit", minute: "2-digit", hourCycle: "h23" as const }),
  });
  return format.format(new Date(ms));
}
