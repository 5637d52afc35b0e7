/**
 * Every UI string goes through t(). Messages are whole sentences with named {placeholders}, so
 * a translation can reorder them; no UI text is ever built by concatenation.
 * English now; Simplified Chinese is the next locale.
 */
const en = {
  'app.title': 'Attention Atlas',
  'input.label': 'Text',
  'input.placeholder': 'Type a sentence and watch the attention patterns change…',
  'input.prependEot': 'Start with <|endoftext|>',
  'help.keys': 'Keys: ←→ head · ↑↓ layer · 1–5 stage · M mask · S scaling · T transpose · P pin · A/G/C views · Esc clear',
  'tokens.heading': 'Tokens ({count})',
  'tokens.empty': 'No tokens yet: type something above.',
  'tokens.truncated': 'Only the first {kept} of {total} tokens fit this model’s context; the rest are not analysed.',
  'tokens.title': 'Token {index}: id {id}. Click to explain this query.',
  'picker.layer': 'Layer',
  'picker.head': 'Head',
  'picker.current': 'layer {layer}, head {head}',
  'grid.queries': 'Queries',
  'grid.queriesNote': '(attend from)',
  'grid.keys': 'Keys',
  'grid.keysNote': '(attended to)',
  'grid.aria': 'Query·key grid of {count} tokens',
  'grid.tooltipPair': 'query  {query}\nkey    {key}',
  'grid.tooltipMasked': 'masked: a query cannot see later keys',
  'grid.limit': 'The grid shows the first {shown} of {total} tokens; the analysis covers all of them.',
  'stage.heading': 'Stages of attention',
  'stage.formulaAria': 'softmax of the masked, scaled query-key products, times V',
  'stage.dk': 'd_k = {dk}, √d_k = {sqrt}',
  'stage.prev': 'Previous stage',
  'stage.next': 'Next stage',
  'stage.key': 'Key {key}',
  'stage.dot.title': 'q·k',
  'stage.dot.short': 'q·k',
  'stage.dot.caption':
    'Each dot is one query·key dot product: how strongly a key matches what a query is looking for. Orange is positive, purple negative; area grows with size.',
  'stage.scale.title': '÷ √d_k',
  'stage.scale.short': 'q·k / √d_k',
  'stage.scale.caption':
    'Dividing by √d_k keeps the scores in a range where softmax stays soft; without it, long vectors give huge scores and softmax picks one key.',
  'stage.mask.title': 'causal mask',
  'stage.mask.short': 'q·k / √d_k',
  'stage.mask.caption':
    'GPT-2 predicts the next token, so a query may only look at itself and earlier keys. Later keys are struck out: they get weight 0, by position, not by a big negative number.',
  'stage.softmax.title': 'softmax',
  'stage.softmax.short': 'weight',
  'stage.softmax.caption':
    'Softmax turns each query’s scores into weights that are positive and sum to 1 (the totals are shown beside the grid).',
  'stage.weights.title': 'weights',
  'stage.weights.short': 'weight',
  'stage.weights.caption':
    'The finished pattern: how much each query takes from each key’s value vector. The panels on the right follow one query through · V to its embedding update.',
  'toggle.mask': 'Causal mask',
  'toggle.scale': 'Scale by 1/√d_k',
  'toggle.to3b1b': 'Keys down, queries across (3Blue1Brown)',
  'toggle.toRows': 'One row per query (BertViz)',
  'toggle.maskOnCaption': 'Mask on: no weight reaches a later token.',
  'toggle.maskOffCaption':
    'Mask off: on average {pct}% of each query’s weight now flows to later tokens (dashed cells) — information the model could never use when generating.',
  'toggle.scaleOnCaption': 'Scaling on: mean entropy {on} nats. Turn it off to see the pattern sharpen.',
  'toggle.scaleOffCaption':
    'Scaling off: scores are {sqrt}× larger, so softmax is peakier — mean entropy drops from {on} to {off} nats.',
  'dot.heading': 'Inside one dot product',
  'dot.pair': 'query {query} ({q}) · key {key} ({k}) — click a cell to choose',
  'dot.sum': 'Σ of the {n} products = q·k = {sum};  ÷ √d_k = {scaled}',
  'dot.loading': 'Loading this head’s vectors…',
  'dot.dimension': 'dimension of the head',
  'dot.query': 'query q',
  'dot.key': 'key k',
  'dot.product': 'q × k',
  'values.heading': 'Values and the embedding update',
  'values.sub': 'For query {query} ({q}): each key’s value vector, scaled by its weight, summed into z.',
  'values.scaledValue': 'weight × value of key {k}',
  'values.more': '… and {count} more keys with smaller weights',
  'values.update': 'ΔE = z · W_O moves the embedding',
  'values.note':
    'E is the embedding entering layer {layer}; E′ = E + ΔE is its update by head {head} alone (the other heads and the output bias add theirs).',
  'pred.heading': 'Next-token prediction',
  'pred.sub': 'After {token} ({q}), the model predicts:',
  'picker.pin': 'Pin for comparison',
  'picker.unpin': 'Unpin',
  'picker.pinned': '{count} pinned',
  'views.aria': 'Views',
  'views.attention': 'Attention (one head)',
  'views.atlas': 'Atlas and compare',
  'views.contributions': 'Contributions',
  'export.data': 'Export data (.zip)',
  'export.png': 'Save PNG',
  'export.svg': 'Save SVG',
  'export.working': 'Preparing the export…',
  'export.downloaded': 'Downloaded {name}',
  'export.saved': 'Saved to {path}',
  'export.cancelled': 'Not saved (cancelled)',
  'atlas.heading': 'Atlas of all heads',
  'atlas.order': 'Order',
  'atlas.order.layer': 'by layer',
  'atlas.order.previousToken': 'previous-token score',
  'atlas.order.firstToken': 'first-token score',
  'atlas.order.local': 'local (±2) score',
  'atlas.order.entropy': 'lowest entropy',
  'atlas.order.induction': 'induction score',
  'atlas.labelledOnly': 'Only labelled heads',
  'atlas.count': '{shown} of {total} heads',
  'atlas.help':
    'Hover a head to enlarge it, click to open it, Shift+click to pin it for comparison. Hover a token to mark it in every head.',
  'atlas.scores': 'previous-token {prev}   first-token {first}\nlocal ±2 {local}   entropy {entropy} nats\ninduction {induction}',
  'atlas.token': 'marked: {token}',
  'label.previous-token': 'previous token',
  'label.first-token': 'first token / sink',
  'label.local': 'local',
  'label.induction': 'induction',
  'compare.heading': 'Compare heads',
  'compare.sameHead': 'Head {head} across all layers',
  'compare.allHeads': 'All heads of layer {layer}',
  'compare.diff': 'Difference (two heads)',
  'compare.diffName': 'difference',
  'compare.clear': 'Clear',
  'compare.empty': 'Pin heads to compare them: Shift+click in the atlas, the Pin button, or a preset.',
  'compare.help':
    'Same tokens, same colour scale; hover one panel and the same cell lights up in all. The mask and scaling toggles apply to every panel.',
  'compare.masked': 'masked',
  'compare.unpin': 'Unpin {head}',
  'contrib.heading': 'How each head updates {token}',
  'contrib.help': 'Click a token above to explain another one; click a cell of the heatmap to choose a head.',
  'contrib.normsHeading': '‖ΔE‖ of every head, with ‖attention out‖ and ‖MLP out‖ per layer',
  'contrib.cellTip': 'layer {layer}, head {head}: ‖ΔE‖ = {norm}',
  'contrib.attnOut': '‖attention out‖',
  'contrib.mlpOut': '‖MLP out‖',
  'contrib.selectedNorm': 'Layer {layer}, head {head} moves this token by ‖ΔE‖ = {norm}.',
  'contrib.pcaHeading': 'E + ΔE → E′ in layer {layer}, drawn in 2-D',
  'contrib.pcaNote':
    'The plane of the sentence’s two principal directions (PCA of the residual vectors before and after attention). Arrows are each head’s ΔE; E′ also includes the output bias. Hover an arrow for how much of its length the plane shows.',
  'contrib.arrowTip': 'head {head}: ‖ΔE‖ = {full}, {shown} of it in this plane',
  'contrib.otherTokens': 'other tokens (E)',
  'contrib.after': 'E′ after attention',
  'contrib.sourcesHeading': 'Where layer {layer}, head {head} takes from',
  'contrib.moved': '‖w · v W_O‖',
  'contrib.weight': 'weight w',
  'contrib.sourcesNote':
    'Value-weighted attention: a big weight on a small value moves nothing. Bars sum (as vectors) to this head’s ΔE.',
  'contrib.writesHeading': 'What layer {layer}, head {head} writes',
  'contrib.raises': 'Raises the logit of',
  'contrib.lowers': 'Lowers the logit of',
  'contrib.writesNote':
    'Direct effect of this head’s ΔE on the next-token logits, through the final LayerNorm’s scale and the unembedding.',
  'status.analyzing': 'Analysing…',
  'status.loading': 'Loading the model…',
  'error.noEngine': 'The engine is not connected: open Attention Atlas through the desktop app or `npm run web`.',
  'error.generic': 'Something went wrong: {message}',
  'model.dims': '{layers} layers × {heads} heads, d_model {dModel}, context {ctx} tokens',
} as const;

export type MessageKey = keyof typeof en;
const catalogs: Record<string, Record<MessageKey, string>> = { en };
let locale = 'en';

export function setLocale(l: string): void {
  if (catalogs[l]) locale = l;
}

export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const template = catalogs[locale]?.[key] ?? en[key];
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}
