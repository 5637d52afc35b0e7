/**
 * GPT-2 byte-level BPE over GPT-2's published ranks (the `gpt2` table js-tiktoken ships: the
 * 50257-token vocabulary), encoded by a hand-written merge loop that is O(n log n) per piece.
 *
 * Why hand-written: both GPT-2 BPE libraries in this project merge with a full scan for the
 * lowest-ranked pair after every merge, which is quadratic in the length of one pre-tokenizer
 * piece. That is harmless for English (pieces are words) but a run of CJK or emoji without
 * spaces is ONE piece: measured on this machine, js-tiktoken 1.0.21 took 0.7 s for 1,000
 * Chinese characters and 3–4 s for 2,000 (6 s for 2,000 emoji); gpt-tokenizer 4.0.0 (a cache
 * in front of the same scan) took 14 ms for 2,000 but 1.5 s for 20,000 Chinese characters.
 * We found no well-kept JavaScript GPT-2 BPE that merges with a heap: js-tiktoken's fix is an
 * open pull request (dqbd/tiktoken #156), and tiktoken's Rust core, behind the WASM `tiktoken`
 * package, scans the same way (openai/tiktoken #195; heap merges in #239 and #442 unmerged).
 * So this module keeps js-tiktoken's data (ranks and pre-tokenizer regex) and its exact merge
 * rule — repeatedly merge the adjacent pair whose concatenated bytes have the lowest rank, the
 * leftmost on ties, and take a whole piece that is itself a token as is — but finds that pair
 * with a binary heap over a linked list of parts. The ids equal js-tiktoken's and
 * gpt-tokenizer's (test/unit/tokenizer.test.ts checks both on a corpus of tricky strings).
 *
 * What else this module adds:
 *  - `<|endoftext|>` typed by the user is ordinary text, never the special token: only
 *    `encode(text, { prependEndOfText: true })` puts the real token (id 50256) in front.
 *  - `IncrementalTokenizer`: a keystroke re-tokenizes only from the last piece boundary that
 *    the edit cannot move, not the whole text.
 *  - token display strings and character groups: a character whose bytes GPT-2 split over
 *    several tokens is shown once over its pieces (see `pieces`).
 */
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import type { CharGroup } from '../shared/api';

export const END_OF_TEXT_ID = 50256;
export const END_OF_TEXT = '<|endoftext|>';
export const GPT2_VOCAB_SIZE = 50257;

/** One token as shown to a person. */
export interface TokenPiece {
  id: number;
  /**
   * The exact text the token covers. A character whose bytes are split across tokens is shown
   * on each of them as the character and the token's place among its pieces: `注(1/2)`.
   */
  display: string;
  /** True when the token holds only some of the bytes of a character. */
  partial: boolean;
  /** UTF-16 range [start, end) of the source text this token overlaps (whole characters). */
  start: number;
  end: number;
  /** Tokens that hold one character (or emoji grapheme) between them share one group. */
  charGroup: CharGroup;
}

export interface EncodeOptions {
  /** Put the real `<|endoftext|>` token (id 50256) first, as GPT-2 saw at document starts. */
  prependEndOfText?: boolean;
}

/** GPT-2's pre-tokenizer: the text is cut into pieces and BPE runs inside each piece. */
const PIECE_PATTERN: string = gpt2Ranks.pat_str;

/** id → bytes, and bytes (as a latin1 string, one char per byte) → id, from the ranks table. */
function buildTables(): { bytes: Uint8Array[]; ranks: Map<string, number> } {
  const bytes: Uint8Array[] = new Array<Uint8Array>(GPT2_VOCAB_SIZE);
  const ranks = new Map<string, number>();
  for (const line of gpt2Ranks.bpe_ranks.split('\n')) {
    if (!line) continue;
    const [, offsetStr, ...tokens] = line.split(' ');
    const offset = Number.parseInt(offsetStr ?? '', 10);
    tokens.forEach((tok, i) => {
      const b = Buffer.from(tok, 'base64');
      bytes[offset + i] = Uint8Array.from(b);
      ranks.set(b.toString('latin1'), offset + i);
    });
  }
  bytes[END_OF_TEXT_ID] = new TextEncoder().encode(END_OF_TEXT);
  for (let i = 0; i < GPT2_VOCAB_SIZE; i++) {
    if (!bytes[i]) throw new Error(`GPT-2 ranks table has no entry for token ${i}`);
  }
  return { bytes, ranks };
}

/** Length in bytes of the UTF-8 sequence that starts with `lead` (1 for invalid leads). */
function utf8Length(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xf0 && lead < 0xf8) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

/**
 * A binary min-heap of merge candidates. Priority = rank · 2³² + left byte offset, so equal
 * ranks pop leftmost first (ranks < 2¹⁶ and offsets < 2³² keep it exact in a double).
 */
class CandidateHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    let i = a.length;
    a.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pv = a[p] as number;
      if (pv <= v) break;
      a[i] = pv;
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0] as number;
    const last = a.pop() as number;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && (a[r] as number) < (a[l] as number) ? r : l;
        if ((a[c] as number) >= last) break;
        a[i] = a[c] as number;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

const TWO_32 = 4294967296;

/**
 * BPE of one piece, given as a latin1 string (one char per UTF-8 byte). Same result as
 * js-tiktoken's bytePairEncode: merge the lowest-ranked adjacent pair (leftmost on ties) until
 * no adjacent pair is a token. O(n log n): parts are a linked list, candidates a heap with lazy
 * deletion. A candidate (rank, left) is current iff the part at `left` is alive and its pair's
 * rank is still `rank` — a part's pair only ever grows, and a longer byte string is a different
 * token, so an outdated candidate never matches.
 */
function bytePairEncode(piece: string, ranks: Map<string, number>): number[] {
  const n = piece.length;
  const whole = ranks.get(piece);
  if (whole !== undefined) return [whole];
  if (n === 1) return []; // unreachable for GPT-2: every byte is a token
  const next = new Int32Array(n); // start of the next part (n at the end)
  const prev = new Int32Array(n); // start of the previous part (-1 at the start)
  const pairRank = new Float64Array(n); // rank of (part here + next part), Infinity if none
  const heap = new CandidateHeap();
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    const r = i + 1 < n ? ranks.get(piece.slice(i, i + 2)) : undefined;
    pairRank[i] = r ?? Infinity;
    if (r !== undefined) heap.push(r * TWO_32 + i);
  }
  const rankAt = (left: number): number => {
    const mid = next[left] as number;
    if (mid >= n) return Infinity;
    return ranks.get(piece.slice(left, next[mid] as number)) ?? Infinity;
  };
  const alive = new Uint8Array(n).fill(1);
  while (heap.size > 0) {
    const key = heap.pop();
    const rank = Math.floor(key / TWO_32);
    const left = key - rank * TWO_32;
    if (!alive[left] || pairRank[left] !== rank) continue; // outdated candidate
    const mid = next[left] as number;
    const end = next[mid] as number;
    // Merge: the part at `left` absorbs the part at `mid`.
    alive[mid] = 0;
    next[left] = end;
    if (end < n) prev[end] = left;
    const r = rankAt(left);
    pairRank[left] = r;
    if (r !== Infinity) heap.push(r * TWO_32 + left);
    const p = prev[left] as number;
    if (p >= 0) {
      const rp = rankAt(p);
      pairRank[p] = rp;
      if (rp !== Infinity) heap.push(rp * TWO_32 + p);
    }
  }
  const out: number[] = [];
  for (let i = 0; i < n; i = next[i] as number) {
    const id = ranks.get(piece.slice(i, next[i] as number));
    if (id !== undefined) out.push(id); // always defined: parts are tokens
  }
  return out;
}

/** Pieces up to this many UTF-16 units are remembered (piece text → ids). */
const CACHED_PIECE_CHARS = 64;
const PIECE_CACHE_ENTRIES = 50_000;

export class Gpt2Tokenizer {
  private readonly tables = buildTables();
  private readonly bytes = this.tables.bytes;
  private readonly ranks = this.tables.ranks;
  // ignoreBOM: a U+FEFF in the text is a character like any other, never stripped.
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private readonly pieceCache = new Map<string, number[]>();

  /** Token ids of `text`, from scratch. `<|endoftext|>` in the text is plain text. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = options.prependEndOfText ? [END_OF_TEXT_ID] : [];
    this.encodePiecesFrom(text, 0, ids, null);
    return ids;
  }

  /**
   * Runs the pre-tokenizer from `from` (which must be a piece boundary) to the end of `text`,
   * appending ids to `ids` and, when given, each piece's end and the id count after it to `ends`.
   */
  encodePiecesFrom(text: string, from: number, ids: number[], ends: { text: number[]; ids: number[] } | null): void {
    const re = new RegExp(PIECE_PATTERN, 'gu');
    re.lastIndex = from;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      for (const id of this.encodePiece(m[0])) ids.push(id);
      if (ends) {
        ends.text.push(m.index + m[0].length);
        ends.ids.push(ids.length);
      }
    }
  }

  /** BPE ids of one pre-tokenizer piece. */
  encodePiece(piece: string): readonly number[] {
    const cacheable = piece.length <= CACHED_PIECE_CHARS;
    if (cacheable) {
      const hit = this.pieceCache.get(piece);
      if (hit) return hit;
    }
    const ids = bytePairEncode(Buffer.from(piece, 'utf8').toString('latin1'), this.ranks);
    if (cacheable) {
      if (this.pieceCache.size >= PIECE_CACHE_ENTRIES) this.pieceCache.clear();
      this.pieceCache.set(piece, ids);
    }
    return ids;
  }

  decode(ids: readonly number[]): string {
    return this.utf8.decode(this.concatBytes(ids));
  }

  tokenBytes(id: number): Uint8Array {
    const b = this.bytes[id];
    if (!b) throw new RangeError(`token id ${id} is outside GPT-2's vocabulary (0..${GPT2_VOCAB_SIZE - 1})`);
    return b;
  }

  private concatBytes(ids: readonly number[]): Uint8Array {
    const parts = ids.map((id) => this.tokenBytes(id));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /**
   * Display pieces for a token sequence. Walks the concatenated UTF-8 bytes character by
   * character: a character whose bytes straddle token boundaries is shown on each of its tokens
   * as `char(k/n)`. Then tokens are grouped: every token holding bytes of one grapheme (a
   * character, or an emoji with its modifiers and joiners) lands in the same group, whose text
   * is that grapheme (with any whole characters its tokens also hold).
   */
  pieces(ids: readonly number[], prependedEndOfText = false): TokenPiece[] {
    const all = this.concatBytes(ids);
    // Token index of each byte.
    const owner = new Int32Array(all.length);
    let o = 0;
    ids.forEach((id, t) => {
      const n = this.tokenBytes(id).length;
      owner.fill(t, o, o + n);
      o += n;
    });
    const T = ids.length;
    const display = ids.map(() => '');
    const partial = ids.map(() => false);
    const start = ids.map(() => -1);
    const end = ids.map(() => -1);
    // Characters in order: their decoded text, UTF-16 start, and first/last token.
    const chars: { ch: string; at: number; first: number; last: number }[] = [];
    let utf16 = 0; // position in the decoded text
    let i = 0;
    while (i < all.length) {
      const len = Math.min(utf8Length(all[i] ?? 0), all.length - i);
      const ch = this.utf8.decode(all.subarray(i, i + len));
      const first = owner[i] ?? 0;
      const last = owner[i + len - 1] ?? first;
      chars.push({ ch, at: utf16, first, last });
      if (first === last) {
        display[first] += ch;
      } else {
        const count = last - first + 1;
        for (let t = first; t <= last; t++) {
          // No space before the bracket: the views show spaces as ␣, and this one is not in the text.
          display[t] += `${ch}(${t - first + 1}/${count})`;
          partial[t] = true;
        }
      }
      const charEnd = utf16 + ch.length;
      for (let t = first; t <= last; t++) {
        if (start[t] === -1) start[t] = utf16;
        end[t] = charEnd;
      }
      utf16 = charEnd;
      i += len;
    }
    const decoded = chars.map((c) => c.ch).join('');
    // joined[t]: token t and token t+1 hold parts of one grapheme.
    const joined = new Uint8Array(Math.max(0, T - 1));
    let c = 0;
    for (const g of graphemeEnds(decoded)) {
      // Characters [c, k) make up this grapheme.
      let k = c;
      while (k < chars.length && (chars[k]?.at ?? 0) < g) k++;
      if (k > c) {
        const a = chars[c]?.first ?? 0;
        const b = chars[k - 1]?.last ?? a;
        for (let t = a; t < b; t++) joined[t] = 1;
      }
      c = k;
    }
    // The prepended special token is its own group, even before a combining mark.
    if (prependedEndOfText && ids[0] === END_OF_TEXT_ID && T > 1) joined[0] = 0;
    const groups: CharGroup[] = new Array<CharGroup>(T);
    for (let a = 0; a < T;) {
      let b = a;
      while (b < T - 1 && joined[b]) b++;
      const group: CharGroup = { first: a, count: b - a + 1, text: decoded.slice(start[a] ?? 0, end[b] ?? 0) };
      for (let t = a; t <= b; t++) groups[t] = group;
      a = b + 1;
    }
    if (prependedEndOfText && ids[0] === END_OF_TEXT_ID) {
      // The prepended special token is not part of the user's text.
      const shift = END_OF_TEXT.length;
      for (let t = 0; t < T; t++) {
        start[t] = t === 0 ? 0 : (start[t] ?? 0) - shift;
        end[t] = t === 0 ? 0 : (end[t] ?? 0) - shift;
      }
    }
    return ids.map((id, t) => {
      const g = groups[t] ?? { first: t, count: 1, text: display[t] ?? '' };
      return {
        id,
        display: display[t] ?? '',
        partial: partial[t] ?? false,
        start: start[t] ?? 0,
        end: end[t] ?? 0,
        // A fresh object per token: the group is shared by value (safe to send over IPC).
        charGroup: { first: g.first, count: g.count, text: g.text },
      };
    });
  }
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** UTF-16 end offsets of the grapheme clusters of `s`, in order. */
function* graphemeEnds(s: string): Generator<number> {
  for (const seg of graphemes.segment(s)) yield seg.index + seg.segment.length;
}

/**
 * Tokenizes a text that changes a little at a time (a person typing) without re-tokenizing it
 * whole: it keeps the last text's pre-tokenizer pieces and their ids, keeps every piece the edit
 * cannot have changed, and runs the pre-tokenizer and BPE again from there to the end.
 *
 * Which pieces are safe: GPT-2's regex never looks behind, and its matches tile the text, so a
 * piece is decided by the text from its start on. The most it reads past its own end is to the
 * end of the next piece plus one character (`\s+(?!\S)` reads a whole whitespace run and gives
 * back its last character, which starts the next piece; a greedy run reads the one character
 * that stops it; the contractions read at most three characters). So piece i is kept when the
 * next piece ends more than one character before the first changed character: its text and
 * everything it read are unchanged. (The extra character covers a surrogate pair whose low half
 * changed: with the `u` flag the high half is read together with it.)
 */
export class IncrementalTokenizer {
  private text = '';
  /** UTF-16 end of each piece of `text`, and the number of ids after that piece. */
  private ends: { text: number[]; ids: number[] } = { text: [], ids: [] };
  private ids: number[] = [];
  /** Pieces re-tokenized by the last call (for tests and the benchmark). */
  lastPiecesRun = 0;

  constructor(readonly tokenizer: Gpt2Tokenizer) {}

  /** UTF-16 end of each pre-tokenizer piece of the last text (for tests). */
  pieceEnds(): readonly number[] {
    return this.ends.text;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (text !== this.text) this.update(text);
    else this.lastPiecesRun = 0;
    return options.prependEndOfText ? [END_OF_TEXT_ID, ...this.ids] : this.ids.slice();
  }

  private update(text: string): void {
    const old = this.text;
    const lim = Math.min(old.length, text.length);
    let p = 0;
    while (p < lim && old.charCodeAt(p) === text.charCodeAt(p)) p++;
    // Keep pieces 0..keep-1: piece i is kept when piece i+1 ends before p - 1.
    const te = this.ends.text;
    let lo = 0;
    let hi = te.length; // first j with te[j] >= p - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((te[mid] ?? 0) < p - 1) lo = mid + 1;
      else hi = mid;
    }
    const keep = Math.max(0, lo - 1);
    const from = keep > 0 ? (te[keep - 1] ?? 0) : 0;
    const idCount = keep > 0 ? (this.ends.ids[keep - 1] ?? 0) : 0;
    te.length = keep;
    this.ends.ids.length = keep;
    this.ids.length = idCount;
    this.tokenizer.encodePiecesFrom(text, from, this.ids, this.ends);
    this.lastPiecesRun = te.length - keep;
    this.text = text;
  }
}
