/**
 * The world map: QueryGeo bins as heat circles, sized and coloured by count, on the offline world
 * outline. The cell size follows the zoom (4° for the whole world, halved per doubling), and the map is
 * where the location filter is drawn: a box dragged out, or a radius around a clicked point.
 */
import type { GeoBin } from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import type { Api } from "./api.ts";
import { chartIn, type EChartsType, registerWorld } from "./charts.ts";
import { circleSize } from "./circle-size.ts";
import { debug } from "./debug.ts";
import { Panel } from "./panel.ts";
import { cellForZoom, geoRequest, json, type QueryContext } from "./requests.ts";
import type { LocationFilter, MapView } from "./state.ts";

const number = new Intl.NumberFormat();
const EARTH_RADIUS_KM = 6371.0088;

/** The outline of a location filter as map polylines of [lon, lat]. */
export function outline(loc: LocationFilter): [number, number][][] {
  if (loc.kind === "box") {
    const ring = (west: number, east: number): [number, number][] => [
      [west, loc.south],
      [east, loc.south],
      [east, loc.north],
      [west, loc.north],
      [west, loc.south],
    ];
    // A box across the antimeridian is drawn as its two halves.
    return loc.west <= loc.east ? [ring(loc.west, loc.east)] : [ring(loc.west, 180), ring(-180, loc.east)];
  }
  const lat1 = (loc.lat * Math.PI) / 180;
  const lon1 = (loc.lon * Math.PI) / 180;
  const d = loc.radiusKm / EARTH_RADIUS_KM;
  const points: [number, number][] = [];
  for (let i = 0; i <= 72; i++) {
    const bearing = (i / 72) * 2 * Math.PI;
    const lat2 = Math.asin(Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(bearing));
    const lon2 =
      lon1 +
      Math.atan2(
        Math.sin(bearing) * Math.sin(d) * Math.cos(lat1),
        Math.cos(d) - Math.sin(lat1) * Math.sin(lat2),
      );
    points.push([(((((lon2 * 180) / Math.PI + 540) % 360) + 360) % 360) - 180, (lat2 * 180) / Math.PI]);
  }
  return [points];
}

export class MapPanel {
  private readonly panel: Panel;
  private readonly chart: EChartsType;
  private cell = cellForZoom(1);
  private ctx: QueryContext | undefined;
  private signal: AbortSignal | undefined;
  private tool: "" | "box" | "near" = "";
  private roamTimer: ReturnType<typeof setTimeout> | undefined;
  /** The calls of the map's latest load: a newer zoom cancels them, so a late answer never wins. */
  private calls: AbortController | undefined;

  constructor(
    private readonly api: Api,
    retry: () => void,
    private readonly onLocation: (loc: LocationFilter | undefined) => void,
    /** Told of each zoom or pan once it settles, so the view's URL holds it. */
    private readonly onView: (view: MapView) => void,
  ) {
    this.panel = new Panel(api, "panel-map", retry);
    registerWorld();
    const element = this.panel.body.querySelector<HTMLElement>(".chart")!;
    this.chart = chartIn(element);
    this.chart.setOption({
      animation: false,
      tooltip: { trigger: "item", confine: true },
      geo: {
        map: "world",
        roam: true,
        scaleLimit: { min: 1, max: 256 },
        itemStyle: { areaColor: "#e5e7eb", borderColor: "#9ca3af", borderWidth: 0.5 },
        emphasis: { disabled: true },
        select: { disabled: true },
        tooltip: { show: false },
      },
      series: [],
    });
    this.chart.on("georoam", () => {
      clearTimeout(this.roamTimer);
      this.roamTimer = setTimeout(() => this.followZoom(), 250);
    });
    this.chart.getZr().on("click", (event) => {
      if (this.tool !== "near") return;
      this.setTool("");
      const point = this.toMap(event.offsetX, event.offsetY);
      if (!point) return;
      const radiusKm = Number(this.panel.root.querySelector<HTMLInputElement>("input[name=radius]")!.value);
      this.onLocation({
        kind: "circle",
        lat: point[1],
        lon: point[0],
        radiusKm: radiusKm > 0 ? radiusKm : 250,
      });
    });
    const button = (name: string) =>
      this.panel.root.querySelector<HTMLButtonElement>(`button[name=${name}]`)!;
    button("box").addEventListener("click", () => this.setTool(this.tool === "box" ? "" : "box"));
    button("near").addEventListener("click", () => this.setTool(this.tool === "near" ? "" : "near"));
    this.drawBoxes(element);
    button("clear").addEventListener("click", () => this.onLocation(undefined));
  }

  private setTool(tool: "" | "box" | "near"): void {
    this.tool = tool;
    this.panel.root.dataset.tool = tool;
  }

  /** [lon, lat] under a point of the chart, or undefined off the map's coordinate space. */
  private toMap(x: number, y: number): [number, number] | undefined {
    const point = this.chart.convertFromPixel({ geoIndex: 0 }, [x, y]) as number[] | undefined;
    if (!point || !Number.isFinite(point[0]) || !Number.isFinite(point[1])) return undefined;
    return [Math.max(-180, Math.min(180, point[0]!)), Math.max(-90, Math.min(90, point[1]!))];
  }

  /**
   * Box mode: a drag over the map draws a rectangle (pointer events, so a finger works too) whose corners
   * become the box filter. The map does not pan meanwhile: the drag sits on a layer above it.
   */
  private drawBoxes(element: HTMLElement): void {
    const layer = document.createElement("div");
    layer.className = "draw-layer";
    const rect = document.createElement("div");
    rect.className = "draw-rect";
    layer.append(rect);
    element.append(layer);
    let start: [number, number] | undefined;
    const at = (e: PointerEvent): [number, number] => {
      const box = layer.getBoundingClientRect();
      return [e.clientX - box.left, e.clientY - box.top];
    };
    const place = ([x, y]: [number, number]) => {
      if (!start) return;
      rect.style.left = `${Math.min(start[0], x)}px`;
      rect.style.top = `${Math.min(start[1], y)}px`;
      rect.style.width = `${Math.abs(x - start[0])}px`;
      rect.style.height = `${Math.abs(y - start[1])}px`;
    };
    layer.addEventListener("pointerdown", (e) => {
      start = at(e);
      layer.setPointerCapture(e.pointerId);
      place(start);
      rect.hidden = false;
    });
    layer.addEventListener("pointermove", (e) => place(at(e)));
    layer.addEventListener("pointerup", (e) => {
      const from = start;
      const to = at(e);
      start = undefined;
      rect.hidden = true;
      this.setTool("");
      if (!from || Math.abs(to[0] - from[0]) < 4 || Math.abs(to[1] - from[1]) < 4) return;
      const a = this.toMap(from[0], from[1]);
      const b = this.toMap(to[0], to[1]);
      if (!a || !b) return;
      this.onLocation({
        kind: "box",
        south: Math.min(a[1], b[1]),
        west: Math.min(a[0], b[0]),
        north: Math.max(a[1], b[1]),
        east: Math.max(a[0], b[0]),
      });
    });
    rect.hidden = true;
  }

  private followZoom(): void {
    const geo = (this.chart.getOption() as { geo?: { zoom?: number; center?: number[] }[] }).geo?.[0];
    const zoom = geo?.zoom ?? 1;
    const [lon, lat] = geo?.center ?? [];
    if (lon !== undefined && lat !== undefined && Number.isFinite(lon) && Number.isFinite(lat))
      this.onView({ zoom, lon: Math.max(-180, Math.min(180, lon)), lat: Math.max(-90, Math.min(90, lat)) });
    const cell = cellForZoom(zoom);
    if (cell === this.cell || !this.ctx || !this.signal) return;
    this.cell = cell;
    void this.load(this.ctx, this.signal);
  }

  async load(ctx: QueryContext, signal: AbortSignal): Promise<void> {
    this.ctx = ctx;
    this.signal = signal;
    this.setTool("");
    // A view from the URL (a shared link, a reload, Back): its zoom and center, and so its cells.
    const view = ctx.state.map;
    if (view) {
      this.chart.setOption({ geo: { zoom: view.zoom, center: [view.lon, view.lat] } });
      this.cell = cellForZoom(view.zoom);
    }
    const request = geoRequest(ctx, this.cell);
    this.calls?.abort();
    this.calls = new AbortController();
    const calls = AbortSignal.any([signal, this.calls.signal]);
    this.panel.loading();
    try {
      const bins: GeoBin[] = [];
      let pageToken = "";
      do {
        const page = await this.api.queryGeo({ ...request, pageToken }, { signal: calls });
        bins.push(...page.bins);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      this.draw(bins, ctx);
      const total = bins.reduce((sum, b) => sum + b.count, 0);
      debug.panels.map = {
        request: json.geo(request),
        data: bins.map((b) => [b.lat, b.lon, b.count]),
        total,
      };
      this.panel.ready(
        { case: "geo", value: request },
        `${number.format(total)} located events · ${this.cell}° cells`,
        bins.length === 0 ? "No located events match this range and these filters." : undefined,
      );
    } catch (error) {
      this.panel.failed(error);
    }
  }

  private draw(bins: GeoBin[], ctx: QueryContext): void {
    const max = bins.reduce((m, b) => Math.max(m, b.count), 1);
    const loc = ctx.state.location;
    this.chart.setOption(
      {
        visualMap: {
          type: "continuous",
          seriesIndex: 0,
          dimension: 2,
          min: 1,
          max: Math.max(max, 2),
          calculable: false,
          orient: "horizontal",
          left: 8,
          bottom: 8,
          itemWidth: 10,
          itemHeight: 80,
          text: [number.format(max), "1"],
          inRange: { color: ["#fde68a", "#f97316", "#b91c1c"], opacity: [0.55, 0.8] },
        },
        series: [
          {
            type: "scatter",
            coordinateSystem: "geo",
            data: bins.map((b) => [b.lon, b.lat, b.count]),
            symbolSize: (value: number[]) => circleSize(value[2] ?? 0, max),
            tooltip: {
              formatter: (p: { value: number[] }) =>
                `${number.format(p.value[2] ?? 0)} events<br>${p.value[1]?.toFixed(2)}, ${p.value[0]?.toFixed(2)}`,
            },
          },
          {
            type: "lines",
            coordinateSystem: "geo",
            polyline: true,
            silent: true,
            data: loc ? outline(loc).map((coords) => ({ coords })) : [],
            lineStyle: { color: "#2563eb", width: 2, type: "dashed" },
          },
        ],
      },
      // Merged by index: the geo keeps its zoom and center; the two series get their new data.
      {},
    );
  }
}
