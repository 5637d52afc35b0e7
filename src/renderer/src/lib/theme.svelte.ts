/**
 * The light/dark theme as reactive state. Colours live in CSS variables (styles.css) that
 * follow prefers-color-scheme; canvases and ECharts copy them into their own pixels, so they
 * must redraw when the system theme changes. Reading a colour through themeColor() makes the
 * effect that read it depend on the theme.
 */
let version = $state(0);
if (typeof matchMedia === 'function') {
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => version++);
}

/** A theme colour from its CSS variable, e.g. themeColor('--fg'). */
export function themeColor(name: string): string {
  void version; // the dependency that re-runs the caller on a theme switch
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** A theme colour as [r, g, b] for canvas pixels; `fallback` (#rrggbb) when it is not #rrggbb. */
export function themeRgb(name: string, fallback: string): [number, number, number] {
  const hex = /^#([0-9a-f]{6})$/i.exec(themeColor(name))?.[1] ?? fallback.slice(1);
  return [parseInt(hex.slice(0, 2), 16), parseInt(hex.slice(2, 4), 16), parseInt(hex.slice(4, 6), 16)];
}
