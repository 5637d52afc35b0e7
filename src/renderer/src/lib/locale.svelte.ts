/**
 * The renderer's locale: a Svelte $state bound into i18n.ts, so switching re-renders every
 * string (templates, $derived, chart effects) at once, without reloading anything. The choice
 * is remembered in localStorage and mirrored on <html lang> (CJK glyph selection follows it).
 */
import { bindLocaleState, setLocale, type Locale } from '../i18n';
import { LOCALE_STORAGE_KEY, pickLocale } from '../locale-detect';

function storedLocale(): string | null {
  try {
    return localStorage.getItem(LOCALE_STORAGE_KEY);
  } catch {
    return null; // storage refused (privacy settings): detection still works
  }
}

const state = $state<{ locale: Locale }>({
  locale: pickLocale({
    param: new URLSearchParams(location.search).get('lang'),
    stored: storedLocale(),
    languages: navigator.languages,
  }),
});
bindLocaleState(state);
document.documentElement.lang = state.locale;

/** The header's switch: applies at once and is remembered. */
export function chooseLocale(l: Locale): void {
  setLocale(l);
  document.documentElement.lang = l;
  // A ?lang= link would otherwise win over this choice on the next load.
  const search = location.search.replace(/([?&]lang=)[^&]*/, `$1${l}`);
  if (search !== location.search) history.replaceState(history.state, '', `${location.pathname}${search}${location.hash}`);
  try {
    localStorage.setItem(LOCALE_STORAGE_KEY, l);
  } catch {
    // not remembered, still applied
  }
}
