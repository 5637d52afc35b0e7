/**
 * The light/dark theme as reactive state. Colours live in CSS variables (styles.css) that
 * follow prefers-color-scheme; canvases and ECharts copy them into their own pixels, so they
 * must redraw when the system theme changes. Reading a colour through themeColor() makes the
 * effect that read it depend on the theme.
 */
let version = $state(0);
/**
 * Values read under the current theme. getComputedStyle().getPropertyValue() forces a style
 * recalculation of the whole page when anything changed since the last frame; a chart that
 * asked for its colours right after an analysis landed paid for restyling thousands of fresh
 * grid cells synchronously (≈ 200 ms at 64 tokens), once per colour asked. The variables only
 * change with the theme, so each is read once per theme.
 */
let cache: Record<string, string> = {};
if (typeof matchMedia === 'function') {
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    cache = {};
    version++;
  });
}

/** A theme colour from its CSS variable, e.g. themeColor('--fg'). */
export function themeColor(name: string): string {
  void version; // the dependency that re-runs the caller on a theme switch
  let v = cache[name];
  if (v === undefined) {
    v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    if (v) cache[name] = v; // an empty read (styles not applied yet) is asked again
  }
  return v;
}

/** A theme colour as [r, g, b] for canvas pixels; `fallback` (#rrggbb) when it is not #rrggbb. */
export function themeRgb(name: string, fallback: string): [number, number, number] {
  const hex = /^#([0-9a-f]{6})$/i.exec(themeColor(name))?.[1] ?? fallback.slice(1);
  return [parseInt(hex.slice(0, 2), 16), parseInt(hex.slice(2, 4), 16), parseInt(hex.slice(4, 6), 16)];
}
