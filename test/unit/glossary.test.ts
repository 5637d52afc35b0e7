import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TERMS } from '../../src/renderer/src/lib/glossary';
import { t } from '../../src/renderer/src/i18n';

describe('glossary', () => {
  it('docs/glossary.md carries exactly the explanations the app shows', () => {
    const doc = readFileSync('docs/glossary.md', 'utf8');
    const rows = doc.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| term') && !l.startsWith('|---'));
    expect(rows).toHaveLength(TERMS.length);
    for (const id of TERMS) {
      const name = t(`term.${id}.name`);
      const def = t(`term.${id}.def`);
      expect(rows.some((r) => r.startsWith(`| ${name} |`) && r.endsWith(`| ${def} |`))).toBe(true);
    }
  });
});
