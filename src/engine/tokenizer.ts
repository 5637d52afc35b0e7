/**
 * GPT-2 byte-level BPE, via js-tiktoken (its `gpt2` ranks are GPT-2's 50257-token vocabulary).
 *
 * What this module adds on top of the package:
 *  - `<|endoftext|>` typed by the user is ordinary text, never the special token: only
 *    `encode(text, { prependEndOfText: true })` puts the real token (id 50256) in front.
 *  - token display strings that show exactly the bytes each token covers. js-tiktoken keeps its
 *    id → bytes table private, so we decode the same published ranks table once here.
 */
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';

export const END_OF_TEXT_ID = 50256;
export const END_OF_TEXT = '<|endoftext|>';
export const GPT2_VOCAB_SIZE = 50257;

/** One token as shown to a person. */
export interface TokenPiece {
  id: number;
  /**
   * The exact text the token covers. Bytes of a character that is split across tokens are shown
   * as hex in angle quotes, e.g. `‹e7 8c›`, on every token holding a part of it.
   */
  display: string;
  /** True when the token holds only part of a multi-byte character. */
  partial: boolean;
  /** UTF-16 range [start, end) of the source text this token overlaps (whole characters). */
  start: number;
  end: number;
}

export interface EncodeOptions {
  /** Put the real `<|endoftext|>` token (id 50256) first, as GPT-2 saw at document starts. */
  prependEndOfText?: boolean;
}

function decodeBase64(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'base64'));
}

/** id → bytes, from the same ranks table js-tiktoken encodes with. */
function buildByteTable(): Uint8Array[] {
  const table: Uint8Array[] = new Array<Uint8Array>(GPT2_VOCAB_SIZE);
  for (const line of gpt2Ranks.bpe_ranks.split('\n')) {
    if (!line) continue;
    const [, offsetStr, ...tokens] = line.split(' ');
    const offset = Number.parseInt(offsetStr ?? '', 10);
    tokens.forEach((tok, i) => {
      table[offset + i] = decodeBase64(tok);
    });
  }
  table[END_OF_TEXT_ID] = new TextEncoder().encode(END_OF_TEXT);
  for (let i = 0; i < GPT2_VOCAB_SIZE; i++) {
    if (!table[i]) throw new Error(`GPT-2 ranks table has no entry for token ${i}`);
  }
  return table;
}

/** Length in bytes of the UTF-8 sequence that starts with `lead` (1 for invalid leads). */
function utf8Length(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xf0 && lead < 0xf8) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

const hex = (bytes: ArrayLike<number>): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

export class Gpt2Tokenizer {
  private readonly bpe = new Tiktoken(gpt2Ranks);
  private readonly bytes = buildByteTable();
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false });

  encode(text: string, options: EncodeOptions = {}): number[] {
    // allowedSpecial [] and disallowedSpecial []: "<|endoftext|>" in the text is plain text.
    const ids = this.bpe.encode(text, [], []);
    return options.prependEndOfText ? [END_OF_TEXT_ID, ...ids] : ids;
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
   * character, so a character whose bytes straddle a token boundary is reported on each side
   * as the bytes that side really holds.
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
    const display = ids.map(() => '');
    const partial = ids.map(() => false);
    const start = ids.map(() => -1);
    const end = ids.map(() => -1);
    let utf16 = 0; // position in the source string
    let i = 0;
    while (i < all.length) {
      const len = Math.min(utf8Length(all[i] ?? 0), all.length - i);
      const charBytes = all.subarray(i, i + len);
      const ch = this.utf8.decode(charBytes);
      const first = owner[i] ?? 0;
      const last = owner[i + len - 1] ?? first;
      const charEnd = utf16 + ch.length;
      if (first === last) {
        display[first] += ch;
      } else {
        for (let t = first; t <= last; t++) {
          const part: number[] = [];
          for (let k = i; k < i + len; k++) if (owner[k] === t) part.push(all[k] ?? 0);
          display[t] += `‹${hex(part)}›`;
          partial[t] = true;
        }
      }
      for (let t = first; t <= last; t++) {
        if (start[t] === -1) start[t] = utf16;
        end[t] = charEnd;
      }
      utf16 = charEnd;
      i += len;
    }
    if (prependedEndOfText && ids[0] === END_OF_TEXT_ID) {
      // The prepended special token is not part of the user's text.
      const shift = END_OF_TEXT.length;
      for (let t = 0; t < ids.length; t++) {
        start[t] = t === 0 ? 0 : (start[t] ?? 0) - shift;
        end[t] = t === 0 ? 0 : (end[t] ?? 0) - shift;
      }
    }
    return ids.map((id, t) => ({
      id,
      display: display[t] ?? '',
      partial: partial[t] ?? false,
      start: start[t] ?? 0,
      end: end[t] ?? 0,
    }));
  }
}
