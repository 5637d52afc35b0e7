/**
 * The current analysis as data: analysis.json (model, tokens, per-head summaries and labels)
 * plus one .npy per exposed tensor, named by its TransformerLens hook, in one zip.
 */
import { zipSync, type Zippable } from 'fflate';
import type { AnalyzeRequest } from '../shared/api';
import { allHookNames, hookNames } from '../shared/hooks';
import { headLabels, summarizeHeads } from '../shared/head-scores';
import type { Engine } from './engine';
import { encodeNpy } from './npy';

export const EXPORT_FORMAT = 'attention-atlas-export/1';

export async function exportAnalysis(engine: Engine, req: AnalyzeRequest): Promise<{ name: string; bytes: Uint8Array }> {
  const info = engine.modelInfo();
  const { ids, truncatedFrom } = engine.tokenize(req);
  if (ids.length === 0) throw new Error('there is nothing to export: the text has no tokens');
  const T = ids.length;
  const tensors = await engine.runAll(ids);
  const patterns = new Float32Array(info.nLayers * info.nHeads * T * T);
  for (let l = 0; l < info.nLayers; l++) {
    patterns.set(tensors[hookNames(l).pattern]?.data as Float32Array, l * info.nHeads * T * T);
  }
  const probe = await engine.inductionProbe();
  const heads = summarizeHeads(patterns, info.nLayers, info.nHeads, T, probe.scores).map((s) => ({
    ...s,
    // The share of attention parked on the first token (the "sink"), and the duplicate-token
    // score on the induction probe's sequences.
    sinkShare: s.firstToken,
    duplicateToken: probe.duplicateScores[s.layer * info.nHeads + s.head] ?? 0,
    labels: headLabels(s),
  }));
  const files: Zippable = {};
  const shapes: Record<string, number[]> = {};
  for (const name of allHookNames(info.nLayers)) {
    const t = tensors[name];
    if (!t) continue;
    // Stored, not deflated: float32 tensors shrink by a quarter at best, and deflating 57 MB
    // (256 tokens on the bundled model) took 16 s against 1.5 s for the whole export stored.
    files[`${name}.npy`] = [new Uint8Array(encodeNpy(t.data, t.dims)), { level: 0 }];
    shapes[name] = t.dims;
  }
  const summary = {
    format: EXPORT_FORMAT,
    model: info,
    text: req.text,
    prependEndOfText: req.prependEndOfText,
    truncatedFrom,
    tokens: engine.tokenInfos(ids, req.prependEndOfText, req.text),
    heads,
    inductionProbe: { sequences: probe.sequences, blockLength: probe.blockLength },
    tensors: shapes,
    note: 'Each .npy keeps the batch axis of 1; axis orders follow TransformerLens (see README).',
  };
  files['analysis.json'] = new TextEncoder().encode(JSON.stringify(summary, null, 2) + '\n');
  const bytes = zipSync(files, { level: 6 }); // analysis.json deflated; the .npy members stored
  return { name: `attention-atlas-${info.id}-${T}-tokens.zip`, bytes };
}
