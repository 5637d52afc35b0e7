import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { catalogs, en, setLocale, t, type MessageKey } from '../../src/renderer/src/i18n';
import { normalizeLocale, pickLocale } from '../../src/renderer/src/locale-detect';
import { zhModelTexts } from '../../src/renderer/src/locales/zh-CN-models';
import { CATALOGUE } from '../../src/engine/hub';

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '').sort();
const keys = Object.keys(en) as MessageKey[];
const zh = catalogs['zh-CN'] as Record<string, string | undefined>;

/**
 * Strings that read the same in Chinese: symbols, formula pieces, names of languages and the
 * product. Anything else equal to its English is an untranslated copy.
 */
const SAME_IN_BOTH = new Set<MessageKey>([
  'stage.dot.title',
  'stage.dot.short',
  'stage.scale.title',
  'stage.scale.short',
  'stage.mask.short',
  'stage.softmax.title',
  'term.softmax.name',
  'dot.product',
  'contrib.moved',
  'lang.en',
  'lang.zh-CN',
  'tokens.piece', // "1/2": a piece's place among its character's pieces
  'format.hf-gpt2', // product names
  'format.nanogpt',
  'model.source', // "{format} · {file} · {vocab}": placeholders only
]);

describe('zh-CN translation', () => {
  afterEach(() => setLocale('en'));

  it('has a non-empty string for every English key, and no other keys', () => {
    const missing = keys.filter((k) => !zh[k]?.trim());
    expect(missing).toEqual([]);
    expect(Object.keys(zh).filter((k) => !(k in en))).toEqual([]);
  });

  it('uses exactly the placeholders of the English string', () => {
    const differing = keys.filter((k) => placeholders(zh[k] ?? '').join() !== placeholders(en[k]).join());
    expect(differing).toEqual([]);
  });

  it('translates every string except symbols and names', () => {
    const copies = keys.filter((k) => zh[k] === en[k] && !SAME_IN_BOTH.has(k));
    expect(copies).toEqual([]);
  });

  it('writes Chinese prose with full-width punctuation', () => {
    // A Chinese character directly before an ASCII comma, colon, semicolon or full stop.
    const halfWidth = keys.filter((k) => /[\u4e00-\u9fff][,;:](\s|$)|[\u4e00-\u9fff]\.(\s|$)/.test(zh[k] ?? ''));
    expect(halfWidth).toEqual([]);
  });

  it('t() follows the current locale and fills placeholders', () => {
    expect(t('tokens.heading', { count: 3 })).toBe('Tokens (3)');
    setLocale('zh-CN');
    expect(t('tokens.heading', { count: 3 })).toBe('词元（3 个）');
    expect(t('picker.current', { layer: 2, head: 5 })).toBe('层 2、头 5');
    setLocale('fr'); // not a locale the app has: ignored
    expect(t('picker.layer')).toBe('层');
  });

  it('every t() key used in the renderer exists', () => {
    // Literal keys only; template keys (`views.${v}`) are covered by the type checker.
    const files = ['App.svelte', ...readdir('src/renderer/src/components').map((f) => `components/${f}`)];
    const used = new Set<string>();
    for (const f of files) {
      const src = readFileSync(`src/renderer/src/${f}`, 'utf8');
      for (const m of src.matchAll(/\bt\('([\w.-]+)'/g)) used.add(m[1] ?? '');
    }
    expect([...used].filter((k) => !(k in en))).toEqual([]);
  });
});

function readdir(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.svelte'));
}

describe('zh-CN model texts', () => {
  it('cover the bundled model and every model the library offers', () => {
    const card = JSON.parse(readFileSync('resources/models/tiny-gpt2-brown/atlas-model.json', 'utf8')) as {
      label: string;
      description: string;
    };
    const texts = [card.label, card.description, ...CATALOGUE.map((c) => c.description)];
    expect(texts.filter((x) => !zhModelTexts[x])).toEqual([]);
  });
});

describe('locale detection', () => {
  it('maps Chinese tags to zh-CN, English tags to en, others to nothing', () => {
    for (const tag of ['zh', 'zh-CN', 'zh-Hans', 'zh-Hans-CN', 'zh-SG', 'zh_CN', 'zh-TW', 'zh-HK']) {
      expect(normalizeLocale(tag)).toBe('zh-CN');
    }
    expect(normalizeLocale('en-GB')).toBe('en');
    expect(normalizeLocale('de-DE')).toBeNull();
    expect(normalizeLocale('')).toBeNull();
  });

  it('prefers ?lang=, then the remembered choice, then the browser’s (the OS’s) languages', () => {
    expect(pickLocale({ param: 'zh-CN', stored: 'en', languages: ['en-US'] })).toBe('zh-CN');
    expect(pickLocale({ param: 'en', stored: 'zh-CN', languages: ['zh-CN'] })).toBe('en');
    expect(pickLocale({ param: 'xx', stored: 'zh-CN', languages: ['en-US'] })).toBe('zh-CN');
    expect(pickLocale({ stored: null, languages: ['de-DE', 'zh-Hans', 'en'] })).toBe('zh-CN');
    expect(pickLocale({ languages: ['fr-FR'] })).toBe('en');
    expect(pickLocale({})).toBe('en');
  });
});
