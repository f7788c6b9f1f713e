/**
 * The three QuerySeries panels: events over time stacked by type (the default view), unique users over
 * time as lines, and a breakdown of the range by supply, need, org or project.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { QuerySeriesRequest, SeriesRow } from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { type Api, allSeriesRows } from "./api.ts";
import { chartIn, type EChartsType } from "./charts.ts";
import { debug } from "./debug.ts";
import { Panel } from "./panel.ts";
import { breakdownRequest, json, type QueryContext, typesRequest, usersRequest } from "./requests.ts";
import { FILTER_FIELDS } from "./state.ts";
import { bucketLabel, unfinishedFrom } from "./time.ts";

const number = new Intl.NumberFormat();
const NO_MATCH = "No events match this range and these filters.";

/** Rows (ordered by bucket, then group) as one series per group over the bucket axis. */
export function pivot(rows: SeriesRow[]) {
  const buckets: number[] = [];
  const groups = new Map<string, number[]>();
  for (const row of rows) {
    const at = timestampMs(row.bucketStart!);
    if (buckets[buckets.length - 1] !== at) buckets.push(at);
    const name = row.group[0] ?? "";
    const values = groups.get(name) ?? [];
    groups.set(name, values);
    values[buckets.length - 1] = row.value;
  }
  for (const values of groups.values()) {
    for (let i = 0; i < buckets.length; i++) values[i] ??= 0;
  }
  return { buckets, groups };
}

function label(group: string): string {
  return group === "" ? "(none)" : group;
}

abstract class SeriesPanel {
  protected readonly panel: Panel;
  protected readonly chart: EChartsType;

  constructor(
    protected readonly api: Api,
    protected readonly name: string,
    retry: () => void,
  ) {
    this.panel = new Panel(api, `panel-${name}`, retry);
    this.chart = chartIn(this.panel.body.querySelector<HTMLElement>(".chart")!);
  }

  protected abstract request(ctx: QueryContext): QuerySeriesRequest;
  protected abstract draw(rows: SeriesRow[], ctx: QueryContext): { total: string; empty?: string };

  async load(ctx: QueryContext, signal: AbortSignal): Promise<void> {
    const request = this.request(ctx);
    this.panel.loading();
    try {
      const rows = await allSeriesRows(this.api, request, signal);
      const shown = this.draw(rows, ctx);
      debug.panels[this.name] = {
        request: json.series(request),
        data: rows.map((r) => [timestampMs(r.bucketStart!), r.group[0] ?? "", r.value]),
        total: rows.reduce((sum, r) => sum + r.value, 0),
      };
      this.panel.ready({ case: "series", value: request }, shown.total, shown.empty);
    } catch (error) {
      this.panel.failed(error);
    }
  }
}

function timeOption(rows: SeriesRow[], ctx: QueryContext, type: "bar" | "line") {
  const { buckets, groups } = pivot(rows);
  const labels = buckets.map((ms) => bucketLabel(ms, ctx.bucket, ctx.tz));
  // The buckets not over yet are shaded, and the one under way says so (on the axis and in the tooltip):
  // their counts are so far, not final.
  const unfinished = unfinishedFrom(buckets, ctx.range.end, ctx.now);
  if (unfinished >= 0) labels[unfinished] = `${labels[unfinished]} (so far)`;
  const markArea =
    unfinished < 0
      ? undefined
      : {
          silent: true,
          itemStyle: { color: "rgba(100, 116, 139, 0.12)" },
          data: [[{ xAxis: labels[unfinished] }, { xAxis: labels[labels.length - 1] }]],
        };
  return {
    animation: false,
    tooltip: { trigger: "axis", confine: true },
    legend: { type: "scroll", top: 0 },
    grid: { left: 8, right: 16, top: 36, bottom: 8 },
    xAxis: { type: "category", data: labels },
    yAxis: { type: "value", minInterval: 1 },
    series: [...groups].map(([group, data], i) => ({
      name: label(group),
      type,
      data,
      ...(type === "bar" ? { stack: "events", barMaxWidth: 32 } : { showSymbol: buckets.length <= 40 }),
      ...(i === 0 && markArea ? { markArea } : {}),
    })),
  };
}

export class TypesPanel extends SeriesPanel {
  constructor(api: Api, retry: () => void) {
    super(api, "types", retry);
  }
  protected request(ctx: QueryContext) {
    return typesRequest(ctx);
  }
  protected draw(rows: SeriesRow[], ctx: QueryContext) {
    this.chart.setOption(timeOption(rows, ctx, "bar"), { notMerge: true });
    const total = rows.reduce((sum, r) => sum + r.value, 0);
    return { total: `${number.format(total)} events`, empty: total === 0 ? NO_MATCH : undefined };
  }
}

export class UsersPanel extends SeriesPanel {
  constructor(api: Api, retry: () => void) {
    super(api, "users", retry);
  }
  protected request(ctx: QueryContext) {
    return usersRequest(ctx);
  }
  protected draw(rows: SeriesRow[], ctx: QueryContext) {
    this.chart.setOption(timeOption(rows, ctx, "line"), { notMerge: true });
    const peak = rows.reduce((max, r) => Math.max(max, r.value), 0);
    return {
      total: `peak ${number.format(peak)} per ${ctx.bucket}`,
      empty: peak === 0 ? NO_MATCH : undefined,
    };
  }
}

export class BreakdownPanel extends SeriesPanel {
  constructor(api: Api, retry: () => void) {
    super(api, "breakdown", retry);
  }
  protected request(ctx: QueryContext) {
    return breakdownRequest(ctx);
  }
  protected draw(rows: SeriesRow[], ctx: QueryContext) {
    // Largest first, read top-down: ECharts draws a category axis bottom-up, hence the reverse.
    const sorted = [...rows].sort((a, b) => b.value - a.value);
    const element = this.chart.getDom() as HTMLElement;
    element.style.height = `${Math.max(240, sorted.length * 22 + 40)}px`;
    this.chart.resize();
    this.chart.setOption(
      {
        animation: false,
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
        grid: { left: 8, right: 40, top: 8, bottom: 8 },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: {
          type: "category",
          data: sorted.map((r) => label(r.group[0] ?? "")).reverse(),
          axisLabel: { width: 140, overflow: "truncate" },
        },
        series: [
          {
            type: "bar",
            data: sorted.map((r) => r.value).reverse(),
            label: { show: true, position: "right" },
            barMaxWidth: 18,
          },
        ],
      },
      { notMerge: true },
    );
    // Only a "(none)" bar means the field is absent from every event: say so rather than draw it alone.
    const named = sorted.filter((r) => r.value > 0 && r.group[0] !== "").length;
    const field = FILTER_FIELDS[ctx.state.breakdown];
    return {
      total: `${number.format(named)} values`,
      empty: named === 0 ? `No matching event has a ${ctx.state.breakdown} (field \`${field}\`).` : undefined,
    };
  }
}
