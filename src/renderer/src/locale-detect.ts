/**
 * Which locale the app starts in: `?lang=` (browser mode, links for a class), then the choice
 * remembered from the header's switch, then the browser's languages (Electron's renderer
 * reports the OS locale there). Pure, so the rules are unit-tested.
 */
import type { Locale } from './i18n';

export const LOCALE_STORAGE_KEY = 'atlas.locale';

/**
 * A BCP 47 tag to a locale the app has, or null. Every Chinese tag maps to zh-CN: only
 * Simplified Chinese is provided, and a Traditional-Chinese reader gets it rather than English.
 */
export function normalizeLocale(tag: string | null | undefined): Locale | null {
  if (!tag) return null;
  const lower = tag.trim().toLowerCase().replace(/_/g, '-');
  if (lower === 'zh' || lower.startsWith('zh-')) return 'zh-CN';
  if (lower === 'en' || lower.startsWith('en-')) return 'en';
  return null;
}

export function pickLocale(sources: { param?: string | null; stored?: string | null; languages?: readonly string[] }): Locale {
  const fromParam = normalizeLocale(sources.param);
  if (fromParam) return fromParam;
  const fromStore = normalizeLocale(sources.stored);
  if (fromStore) return fromStore;
  for (const l of sources.languages ?? []) {
    const found = normalizeLocale(l);
    if (found) return found;
  }
  return 'en';
}
