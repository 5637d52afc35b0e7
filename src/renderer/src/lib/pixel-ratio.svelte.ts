/**
 * Device pixels per CSS pixel, as reactive state. Canvases size their backing store by it; it
 * changes when the window moves to a screen of another density or the page is zoomed (Ctrl + =
 * in the app), and a canvas painted at the old ratio would stay blurred until something else
 * redrew it. Reading pixelRatio() makes the effect that read it repaint on such a change.
 */
let ratio = $state(typeof window === 'undefined' ? 1 : window.devicePixelRatio || 1);

/** The query watched now, held so that it (and its listener) is not collected. */
let watched: MediaQueryList | null = null;

/** A media query matches only the current ratio: when it stops matching, read the new one. */
function watch(): void {
  if (typeof matchMedia !== 'function') return;
  watched = matchMedia(`(resolution: ${ratio}dppx)`);
  watched.addEventListener(
    'change',
    () => {
      ratio = window.devicePixelRatio || 1;
      watch();
    },
    { once: true },
  );
}
watch();

export function pixelRatio(): number {
  return ratio;
}
