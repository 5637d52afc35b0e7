/** A model's label or description from the engine, in the UI's language where one is known. */
import { getLocale } from './i18n';
import { zhModelTexts } from './locales/zh-CN-models';

export function modelText(text: string): string {
  return getLocale() === 'zh-CN' ? (zhModelTexts[text] ?? text) : text;
}
