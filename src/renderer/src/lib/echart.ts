/**
 * One ECharts instance per element, resized with it and disposed with it: a Svelte attachment
 * of sorts, shared by every chart in the app. Registers the chart types the app uses once.
 */
import { BarChart, HeatmapChart, LineChart, LinesChart, ScatterChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkLineComponent, TooltipComponent, VisualMapComponent } from 'echarts/components';
import { init, use, type ECharts } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { themeColor } from './theme.svelte';

use([
  BarChart,
  HeatmapChart,
  LineChart,
  LinesChart,
  ScatterChart,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

export function mountChart(el: HTMLElement, onReady: (c: ECharts | null) => void): () => void {
  // Chart text uses the page's font fallback list (CJK included), not ECharts' bare sans-serif.
  const chart = init(el, { textStyle: { fontFamily: themeColor('--font-sans') || 'sans-serif' } }, { renderer: 'canvas' });
  onReady(chart);
  const ro = new ResizeObserver(() => chart.resize());
  ro.observe(el);
  return () => {
    ro.disconnect();
    chart.dispose();
    onReady(null);
  };
}

/** The theme's colours and font lists for chart options: reading one makes the chart redraw on a
 * theme switch. */
export { themeColor };
