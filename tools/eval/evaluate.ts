/**
 * Evaluates a GPT-2 checkpoint through the app's own engine (tokenizer, built ONNX graph,
 * onnxruntime-node) on text it never saw in training:
 *
 *   npx tsx tools/eval/evaluate.ts [model-dir] [--json out.json]
 *
 *  - held-out cross-entropy (nats/token) next to a unigram baseline computed on the training
 *    text (add-one smoothed over GPT-2's 50257 tokens);
 *  - per head: previous-token score, first-token score, mean entropy (on held-out windows);
 *  - per head: induction score on random tokens repeated twice (Engine.inductionProbe).
 *
 * Inputs: tools/eval/data/heldout.txt and unigram-train.json, written by
 * tools/train-tiny-gpt2/prepare-data.ts. The model defaults to the bundled one.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../../src/engine/engine';
import { bundledModelDir } from '../../src/engine/paths';
import { GPT2_VOCAB_SIZE } from '../../src/engine/tokenizer';
import { hookNames } from '../../src/shared/hooks';
import { firstTokenScore, meanEntropy, previousTokenScore } from '../../src/shared/head-scores';
import { heldOutStream, negLogLikelihood, unigramLogProb } from './heldout';

/** Held-out windows used for the per-head pattern scores (cross-entropy uses all of them). */
const PATTERN_WINDOWS = 24;

interface HeadRow {
  layer: number;
  head: number;
  previousToken: number;
  firstToken: number;
  entropy: number;
  induction: number;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { json: { type: 'string' } }, allowPositionals: true });
  const modelDir = positionals[0] ?? bundledModelDir(process.cwd());
  const engine = new Engine({ cacheDir: mkdtempSync(join(tmpdir(), 'atlas-eval-')) });
  const info = await engine.load(modelDir);
  const { nLayers: L, nHeads: H, nCtx } = info;
  const V = GPT2_VOCAB_SIZE;

  const stream = heldOutStream(engine.tokenizer);
  const logUnigram = unigramLogProb();

  let nll = 0;
  let nllUnigram = 0;
  let predicted = 0;
  const sums = Array.from({ length: L * H }, () => ({ prev: 0, first: 0, ent: 0, n: 0 }));
  const windows = Math.floor((stream.length - 1) / nCtx);
  for (let w = 0; w < windows; w++) {
    const ids = stream.slice(w * nCtx, w * nCtx + nCtx);
    const next = stream.slice(w * nCtx + 1, w * nCtx + nCtx + 1);
    const withPatterns = w < PATTERN_WINDOWS;
    const fetches = ['logits', ...(withPatterns ? Array.from({ length: L }, (_, l) => hookNames(l).pattern) : [])];
    const out = await engine.run(ids, fetches);
    const logits = out['logits']?.data as Float32Array;
    for (let t = 0; t < ids.length; t++) {
      const target = next[t] ?? 0;
      nll += negLogLikelihood(logits.subarray(t * V, (t + 1) * V), target);
      nllUnigram -= logUnigram(target);
      predicted++;
    }
    if (withPatterns) {
      const T = ids.length;
      for (let l = 0; l < L; l++) {
        const p = out[hookNames(l).pattern]?.data as Float32Array;
        for (let h = 0; h < H; h++) {
          const one = p.subarray(h * T * T, (h + 1) * T * T);
          const s = sums[l * H + h];
          if (!s) continue;
          s.prev += previousTokenScore(one, T);
          s.first += firstTokenScore(one, T);
          s.ent += meanEntropy(one, T);
          s.n++;
        }
      }
    }
  }

  // Induction: the engine's probe (<|endoftext|>, random tokens, the same tokens again).
  const probe = await engine.inductionProbe();
  const induction = probe.scores;

  const heads: HeadRow[] = [];
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      const s = sums[l * H + h] ?? { prev: 0, first: 0, ent: 0, n: 1 };
      heads.push({
        layer: l,
        head: h,
        previousToken: s.prev / s.n,
        firstToken: s.first / s.n,
        entropy: s.ent / s.n,
        induction: induction[l * H + h] ?? 0,
      });
    }
  }
  const ce = nll / predicted;
  const ceUnigram = nllUnigram / predicted;
  const best = (key: keyof HeadRow): HeadRow => heads.reduce((a, b) => ((b[key] as number) > (a[key] as number) ? b : a));
  const report = {
    model: info.label,
    heldOutTokens: predicted,
    crossEntropy: ce,
    unigramCrossEntropy: ceUnigram,
    improvement: ceUnigram - ce,
    perplexity: Math.exp(ce),
    heads,
    bestPreviousToken: best('previousToken'),
    bestInduction: best('induction'),
    inductionProbe: { sequences: probe.sequences, blockLength: probe.blockLength },
  };

  const f = (x: number): string => x.toFixed(3);
  console.log(`model: ${info.label}`);
  console.log(`held-out tokens predicted: ${predicted} (${windows} windows of ${nCtx})`);
  console.log(`cross-entropy: ${f(ce)} nats/token (perplexity ${Math.exp(ce).toFixed(1)})`);
  console.log(`unigram baseline (training text, add-one): ${f(ceUnigram)} nats/token`);
  console.log(`improvement over unigram: ${f(ceUnigram - ce)} nats/token`);
  console.log('');
  console.log('layer head  prev-token  first-token  entropy  induction');
  for (const r of heads) {
    console.log(
      `${String(r.layer).padStart(5)} ${String(r.head).padStart(4)}  ${f(r.previousToken).padStart(10)}  ${f(r.firstToken).padStart(11)}  ${f(r.entropy).padStart(7)}  ${f(r.induction).padStart(9)}`,
    );
  }
  console.log('');
  console.log(
    `best previous-token head: L${report.bestPreviousToken.layer}H${report.bestPreviousToken.head} ${f(report.bestPreviousToken.previousToken)}`,
  );
  console.log(
    `best induction head: L${report.bestInduction.layer}H${report.bestInduction.head} ${f(report.bestInduction.induction)}`,
  );
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
  await engine.unload();
}

await main();
