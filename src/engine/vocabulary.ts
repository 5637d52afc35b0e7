/**
 * A model's vocabulary: how text becomes token ids and how ids are shown.
 *
 *  - `gpt2`: GPT-2's byte-level BPE (tokenizer.ts) for models with 50257 rows, or nanoGPT's
 *    50304 (the 47 padding rows are never produced and are left out of predictions).
 *  - `chars`: nanoGPT's character-level `meta.pkl` (`stoi`, `itos`), e.g. shakespeare_char.
 *  - `list`: a `vocab.json` listing the tokens in id order (a JSON array of strings, or an
 *    object token → id); text is split greedily, longest token first.
 *
 * A character no token covers is left out of the ids and reported by `outside()`, so the app
 * can say which characters this model cannot read.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CharGroup } from '../shared/api';
import { readRegularFile } from './regular-file';
import { END_OF_TEXT_ID, GPT2_VOCAB_SIZE, Gpt2Tokenizer, IncrementalTokenizer, type TokenPiece } from './tokenizer';
import { readCharVocab } from './torch-file';
import { ModelFormatError } from './gpt2-weights';
import { NANOGPT_PADDED_VOCAB } from './checkpoint-layout';

export type VocabularyKind = 'gpt2' | 'chars' | 'list';

export interface Vocabulary {
  readonly kind: VocabularyKind;
  /** Tokens it can produce (ids 0 … size − 1). */
  readonly size: number;
  /** The file it was read from; null for GPT-2's built-in tokenizer. */
  readonly file: string | null;
  /** The id put first when the person asks for a document start, or null when there is none. */
  readonly endOfText: number | null;
  encode(text: string, options?: { prependEndOfText?: boolean }): number[];
  /** Display pieces of `ids`, the encoding of `text` (positions are in `text`). */
  pieces(ids: readonly number[], prependedEndOfText: boolean, text: string): TokenPiece[];
  /** One token as shown in predictions. */
  display(id: number): string;
  decode(ids: readonly number[]): string;
  /** Distinct characters of `text` no token covers, in order of appearance. */
  outside(text: string): string[];
}

let shared: Gpt2Vocabulary | null = null;

/** The one GPT-2 vocabulary of this process (its tables take a moment to build). */
export function gpt2Vocabulary(): Gpt2Vocabulary {
  shared ??= new Gpt2Vocabulary();
  return shared;
}

/** GPT-2's tokenizer: byte-level, so every text can be encoded. */
export class Gpt2Vocabulary implements Vocabulary {
  readonly kind = 'gpt2';
  readonly size = GPT2_VOCAB_SIZE;
  readonly file = null;
  readonly endOfText = END_OF_TEXT_ID;
  readonly tokenizer = new Gpt2Tokenizer();
  /** Remembers the last text's pieces: a keystroke re-tokenizes only from the edit on. */
  readonly typing = new IncrementalTokenizer(this.tokenizer);

  encode(text: string, options: { prependEndOfText?: boolean } = {}): number[] {
    return this.typing.encode(text, options);
  }

  pieces(ids: readonly number[], prependedEndOfText: boolean): TokenPiece[] {
    return this.tokenizer.pieces(ids, prependedEndOfText);
  }

  display(id: number): string {
    return this.tokenizer.pieces([id])[0]?.display ?? '';
  }

  decode(ids: readonly number[]): string {
    return this.tokenizer.decode(ids);
  }

  outside(): string[] {
    return [];
  }
}

/** Tokens given as strings in id order: greedy longest-match encoding. */
export class ListVocabulary implements Vocabulary {
  readonly endOfText = null;
  private readonly ids = new Map<string, number>();
  private readonly longest: number;

  constructor(
    readonly kind: 'chars' | 'list',
    private readonly tokens: readonly string[],
    readonly file: string,
  ) {
    tokens.forEach((t, id) => {
      if (t.length > 0 && !this.ids.has(t)) this.ids.set(t, id);
    });
    this.longest = Math.max(1, ...tokens.map((t) => t.length));
  }

  get size(): number {
    return this.tokens.length;
  }

  /** Ids with their UTF-16 ranges, and the characters skipped. */
  private scan(text: string): { ids: number[]; starts: number[]; ends: number[]; outside: string[] } {
    const ids: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    const outside: string[] = [];
    let i = 0;
    while (i < text.length) {
      let hit = -1;
      let len = Math.min(this.longest, text.length - i);
      for (; len > 0; len--) {
        const id = this.ids.get(text.slice(i, i + len));
        if (id !== undefined) {
          hit = id;
          break;
        }
      }
      if (hit >= 0) {
        ids.push(hit);
        starts.push(i);
        ends.push(i + len);
        i += len;
      } else {
        const ch = String.fromCodePoint(text.codePointAt(i) ?? 0xfffd);
        if (!outside.includes(ch)) outside.push(ch);
        i += ch.length;
      }
    }
    return { ids, starts, ends, outside };
  }

  encode(text: string): number[] {
    return this.scan(text).ids;
  }

  pieces(ids: readonly number[], _prepended: boolean, text: string): TokenPiece[] {
    const s = this.scan(text);
    return ids.map((id, t) => {
      const display = this.display(id);
      const start = s.starts[t] ?? -1;
      const charGroup: CharGroup = { first: t, count: 1, text: display };
      return { id, display, partial: false, start, end: s.ends[t] ?? start, charGroup };
    });
  }

  display(id: number): string {
    return this.tokens[id] ?? `⟨${id}⟩`;
  }

  decode(ids: readonly number[]): string {
    return ids.map((id) => this.tokens[id] ?? '').join('');
  }

  outside(text: string): string[] {
    return this.scan(text).outside;
  }
}

/** A vocabulary file: nanoGPT's meta.pkl or a vocab.json. */
export function readVocabularyFile(path: string): ListVocabulary {
  if (/\.pkl$/i.test(path)) {
    const v = readCharVocab(path);
    const tokens = Array.from({ length: v.vocabSize }, (_, id) => v.itos.get(id) ?? '');
    return new ListVocabulary('chars', tokens, path);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readRegularFile(path).toString('utf8'));
  } catch (e) {
    throw new ModelFormatError(`${basename(path)} is not valid JSON (${(e as Error).message})`);
  }
  let tokens: string[];
  if (Array.isArray(raw)) {
    if (!raw.every((t) => typeof t === 'string')) throw new ModelFormatError(`${basename(path)}: every token must be a string`);
    tokens = raw as string[];
  } else if (typeof raw === 'object' && raw !== null) {
    const entries = Object.entries(raw as Record<string, unknown>);
    tokens = new Array<string>(entries.length).fill('');
    for (const [tok, id] of entries) {
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= entries.length)
        throw new ModelFormatError(
          `${basename(path)}: the id of ${JSON.stringify(tok)} must be an integer 0…${entries.length - 1}`,
        );
      tokens[id as number] = tok;
    }
  } else throw new ModelFormatError(`${basename(path)}: expected a list of tokens in id order, or an object token → id`);
  if (tokens.length === 0) throw new ModelFormatError(`${basename(path)} lists no tokens`);
  const single = tokens.every((t) => [...t].length <= 1);
  return new ListVocabulary(single ? 'chars' : 'list', tokens, path);
}

/**
 * The files a model's vocabulary may be in, in the order they are tried: beside the weights,
 * then where nanoGPT's own sample.py looks (`data/<dataset>/meta.pkl`, relative to the folder
 * above the checkpoint's `out-…` folder).
 */
export function vocabularyCandidates(dir: string, extras: Record<string, unknown>): string[] {
  const out = [join(dir, 'meta.pkl'), join(dir, 'vocab.json')];
  const cfg = extras.config;
  const dataset = typeof cfg === 'object' && cfg !== null ? (cfg as Record<string, unknown>).dataset : undefined;
  if (typeof dataset === 'string' && /^[\w.-]+$/.test(dataset)) out.push(join(dirname(dir), 'data', dataset, 'meta.pkl'));
  return out;
}

export class VocabularyNeededError extends ModelFormatError {
  constructor(
    readonly rows: number,
    message: string,
  ) {
    super(message);
    this.name = 'VocabularyNeededError';
  }
}

/**
 * The vocabulary for a model with `rows` embedding rows: the file given, else GPT-2's for 50257
 * (or nanoGPT's padded 50304) rows, else a meta.pkl / vocab.json found by vocabularyCandidates.
 */
export function resolveVocabulary(rows: number, dir: string, extras: Record<string, unknown>, file?: string): Vocabulary {
  if (file) return readVocabularyFile(file);
  if (rows === GPT2_VOCAB_SIZE || rows === NANOGPT_PADDED_VOCAB) return gpt2Vocabulary();
  const candidates = vocabularyCandidates(dir, extras);
  const found = candidates.find((p) => existsSync(p));
  if (found) return readVocabularyFile(found);
  throw new VocabularyNeededError(
    rows,
    `this model has a ${rows}-token vocabulary and no vocabulary file was found ` +
      `(looked for ${candidates.map((p) => basename(dirname(p)) + '/' + basename(p)).join(', ')}): ` +
      `choose nanoGPT's meta.pkl or a vocab.json listing the tokens in id order`,
  );
}
