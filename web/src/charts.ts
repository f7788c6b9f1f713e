/**
 * ECharts, tree-shaken to the charts and components the dashboard draws (echarts/core keeps the bundle
 * small), with the SVG renderer (crisp on every screen, and its shapes are elements the tests can count),
 * and the offline world outline (world-map.ts).
 */
import { BarChart, LineChart, LinesChart, ScatterChart } from "echarts/charts";
import {
  GeoComponent,
  GridComponent,
  LegendScrollComponent,
  MarkAreaComponent,
  TooltipComponent,
  VisualMapContinuousComponent,
} from "echarts/components";
import { type EChartsType, init, registerMap, use } from "echarts/core";
import { SVGRenderer } from "echarts/renderers";
import { worldGeoJson } from "./world-map.ts";

use([
  BarChart,
  LineChart,
  LinesChart,
  ScatterChart,
  GeoComponent,
  GridComponent,
  LegendScrollComponent,
  MarkAreaComponent,
  TooltipComponent,
  VisualMapContinuousComponent,
  SVGRenderer,
]);

let registered = false;

/** Registers the world outline as the map "world" (once). */
export function registerWorld(): void {
  if (registered) return;
  registerMap("world", worldGeoJson() as unknown as Parameters<typeof registerMap>[1]);
  registered = true;
}

/** A chart in `element` that follows the element's size. */
export function chartIn(element: HTMLElement): EChartsType {
  const chart = init(element, undefined, { renderer: "svg" });
  new ResizeObserver(([entry]) => {
    // A zero-sized moment (layout in flux, e.g. while a full-page screenshot resizes the view) would give
    // the map a singular transform, which ECharts cannot invert: wait for a real size.
    const box = entry?.contentRect;
    if (box && box.width > 0 && box.height > 0) chart.resize();
  }).observe(element);
  return chart;
}

export type { EChartsType };
