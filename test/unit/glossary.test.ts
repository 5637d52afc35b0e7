import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TERMS } from '../../src/renderer/src/lib/glossary';
import { catalogs, en } from '../../src/renderer/src/i18n';

describe('glossary', () => {
  it('docs/glossary.md carries exactly the explanations the app shows, in English and Chinese', () => {
    const doc = readFileSync('docs/glossary.md', 'utf8');
    // The first table is the term table; the translation conventions come after the next heading.
    const termSection = doc.slice(0, doc.indexOf('\n## '));
    const rows = termSection.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| term') && !l.startsWith('|---'));
    expect(rows).toHaveLength(TERMS.length);
    const zh = catalogs['zh-CN'];
    for (const id of TERMS) {
      const row = `| ${en[`term.${id}.name`]} | ${zh[`term.${id}.name`]} | ${en[`term.${id}.def`]} | ${zh[`term.${id}.def`]} |`;
      expect(rows).toContain(row);
    }
  });
});
