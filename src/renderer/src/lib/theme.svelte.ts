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
