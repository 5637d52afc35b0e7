/**
 * The held-out evaluation's data and arithmetic, shared by tools/eval/evaluate.ts and the
 * bundled-model test: the held-out stream tokenised as in training, the unigram baseline of the
 * training text, and one position's negative log-likelihood under the model's logits.
 * Inputs are written by tools/train-tiny-gpt2/prepare-data.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { END_OF_TEXT_ID, GPT2_VOCAB_SIZE } from '../../src/engine/tokenizer';

export const EVAL_DATA = join(import.meta.dirname, 'data');

/** Held-out documents as one stream, `<|endoftext|>` before each (as in training); `docs` limits how many. */
export function heldOutStream(tokenizer: { encode(text: string): number[] }, docs = Number.POSITIVE_INFINITY): number[] {
  const texts = readFileSync(join(EVAL_DATA, 'heldout.txt'), 'utf8').trimEnd().split('\n\n\n');
  const stream: number[] = [];
  for (const d of texts.slice(0, docs)) stream.push(END_OF_TEXT_ID, ...tokenizer.encode(d));
  return stream;
}

/** Log-probability of a token under the add-one smoothed unigram model of the training text. */
export function unigramLogProb(): (id: number) => number {
  const u = JSON.parse(readFileSync(join(EVAL_DATA, 'unigram-train.json'), 'utf8')) as {
    total: number;
    counts: Record<string, number>;
  };
  return (id) => Math.log(((u.counts[String(id)] ?? 0) + 1) / (u.total + GPT2_VOCAB_SIZE));
}

/** −log softmax(row)[target], with the max shifted out for stability. */
export function negLogLikelihood(row: Float32Array, target: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i] ?? 0);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp((row[i] ?? 0) - max);
  return -((row[target] ?? 0) - max - Math.log(z));
}
