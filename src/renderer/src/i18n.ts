/**
 * Every UI string goes through t(). Messages are whole sentences with named {placeholders}, so
 * a translation can reorder them; no UI text is ever built by concatenation.
 * English here; Simplified Chinese in locales/zh-CN.ts (typed against these keys, so a missing
 * translation is a type error, and test/unit/i18n.test.ts checks the placeholders match).
 */
import { zhCN } from './locales/zh-CN';

export const en = {
  'app.title': 'Attention Atlas',
  'input.label': 'Text',
  'input.placeholder': 'Type a sentence and watch the attention patterns change…',
  'input.prependEot': 'Start with <|endoftext|>',
  'input.analysedEnd': 'Only the first {chars} of {total} characters fit the model’s context and are analysed.',
  'input.showAnalysedEnd': 'Show where the analysed part ends',
  'help.keys':
    'Keys (after Esc leaves the text box): ←→ head · ↑↓ layer · 1–5 stage · M mask · S scaling · T transpose · P pin · W/A/H/C views · Esc clear',
  'tokens.heading': 'Tokens ({count})',
  'tokens.empty': 'No tokens yet: type something above.',
  'tokens.truncated': 'Only the first {kept} of {total} tokens fit this model’s context; the rest are not analysed.',
  'tokens.title': 'Token {index}: id {id}. Click to explain this query.',
  'tokens.waitingTitle': 'Token {index}: id {id}. Still running through the model.',
  'tokens.waiting': 'The grid is ready; tokens {from}–{to} are still running through the model.',
  'tokens.groupTitle': '{text}: {count} tokens (GPT-2 splits this character into byte pieces)',
  'tokens.piece': '{k}/{n}',
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
  'legend.scale': 'Stages 1–3 share one scale:',
  'legend.weights': 'Weight:',
  'stage.maxScaled': 'Largest |score|: {before} before ÷ √d_k, {after} after (÷ {sqrt}).',
  'stage.maxUnscaled': 'Largest |score|: {before}; scaling is off, so stage 2 leaves it at {after}.',
  'defaultHead.rule':
    'Why this head: its attention is neither one-hot nor uniform, and of such heads it is the one where switching the mask off moves the most weight ({leak}% per query); without scaling it sharpens by {sharpen}%.',
  'defaultHead.fallback':
    'Why this head: no head here is both spread out and sensitive to scaling; this one shows the toggles best ({leak}% leaks without the mask; {sharpen}% sharper without scaling).',
  'defaultHead.model': 'Why this head: this model’s description names it as the one to start with.',
  // Glossary: one definition per term, shown on hover/focus wherever the word appears and in
  // the walkthrough; docs/glossary.md carries the same sentences (a test keeps them equal).
  'term.heading': 'Words used here:',
  'term.query.name': 'query',
  'term.query.def':
    'A query q is what a token is looking for: its vector is compared with every key, and the best matches get the most weight.',
  'term.key.name': 'key',
  'term.key.def': 'A key k is what a token offers to be found by: a query’s score for a token is q·k.',
  'term.value.name': 'value',
  'term.value.def': 'A value v is what a token hands over when it is attended to: z is the weighted sum of values.',
  'term.score.name': 'attention score',
  'term.score.def': 'An attention score ω is one query·key dot product, before scaling and softmax; it can be any real number.',
  'term.weight.name': 'attention weight',
  'term.weight.def': 'An attention weight α is a score after softmax: between 0 and 1, and each query’s weights sum to 1.',
  'term.dk.name': 'd_k',
  'term.dk.def':
    'd_k is the length of each query and key vector (64 in GPT-2 small). Scores are divided by √d_k so softmax stays soft as d_k grows.',
  'term.softmax.name': 'softmax',
  'term.softmax.def':
    'Softmax turns a list of scores into weights: e^score over the sum of e^score, so they are positive and sum to 1.',
  'term.mask.name': 'causal mask',
  'term.mask.def':
    'The causal mask lets a token attend only to itself and earlier tokens, because a model that predicts the next token must not see it.',
  'term.z.name': 'z (context vector)',
  'term.z.def': 'z is a query’s context vector: the attention weights times the value vectors, summed.',
  'term.deltaE.name': 'ΔE',
  'term.deltaE.def':
    'ΔE is what one head adds to a token’s embedding: z times the head’s output matrix W_O. E′ = E + ΔE (3Blue1Brown’s notation).',
  'term.residual.name': 'residual stream',
  'term.residual.def':
    'The residual stream is the running vector of each token that every layer reads from and adds its update to (E, then E + ΔE, …).',
  'term.head.name': 'head',
  'term.head.def':
    'A head is one attention pattern with its own W_q, W_k, W_v, W_O; a layer runs several heads side by side (multi-head attention).',
  'term.layer.name': 'layer',
  'term.layer.def': 'A layer (a transformer block) is multi-head attention followed by an MLP; GPT-2 small stacks 12 of them.',
  'toggle.perCharacter': 'One row per character (aggregate)',
  'toggle.perCharacterHint':
    'A view choice for characters GPT-2 splits into byte pieces: at the softmax and weights stages, sums each key character’s pieces and averages each query character’s pieces.',
  'grid.aggregateNote':
    'Aggregate, not the model’s own grid: weights summed over each key character’s pieces, averaged over each query character’s pieces.',
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
  'values.more': '… and {count} more keys with smaller weights (together {weight})',
  'values.update': 'ΔE = z · W_O moves the embedding',
  'values.note':
    'E is the embedding entering layer {layer}; E′ = E + ΔE is its update by head {head} alone (the other heads and the output bias add theirs).',
  'pred.heading': 'Next-token prediction',
  'pred.sub': 'After {token} ({q}), the model predicts:',
  'picker.pin': 'Pin for comparison',
  'picker.unpin': 'Unpin',
  'picker.pinned': '{count} pinned',
  'views.aria': 'Views',
  'walk.heading': 'Walkthrough: from the book’s example to a real GPT-2',
  'walk.stepOf': 'Step {n} of {total}',
  'walk.prev': '‹ Back',
  'walk.next': 'Next ›',
  'walk.keys': '← → or PageUp / PageDown move between steps',
  'walk.part.book': 'The book’s example: no trainable weights',
  'walk.part.trainable': 'Trainable weights, scaling and the mask',
  'walk.part.real': 'The same steps in the real model',
  'walk.predict': 'Predict, then see',
  'walk.reveal': 'Just show me',
  'walk.youPicked': 'You picked {guess}.',
  'walk.right': 'Right!',
  'walk.notQuite': 'Not quite.',
  'walk.token': 'token',
  'walk.inputVector': 'x (3-d)',
  'walk.sum': 'sum',
  'walk.step.tokens.title': 'Six tokens, six vectors',
  'walk.step.tokens.explain':
    'The book embeds “Your journey starts with one step” as six 3-d vectors x⁽¹⁾ … x⁽⁶⁾. Self-attention will give each token a context vector z that mixes in the others.',
  'walk.step.scores.title': 'Scores: every x⁽ⁱ⁾ · x⁽ʲ⁾',
  'walk.step.scores.explain':
    'A score ω is a dot product: how well two vectors line up. Queries run across the top, keys down the side; the column of “journey” is outlined.',
  'walk.step.scores.question': 'Which key will “journey” weigh most? Click a cell in its outlined column.',
  'walk.step.scores.answer':
    'The largest score in journey’s column is with “{best}”: {value}. A vector lines up best with itself, and “starts” (1.4754) is almost the same vector.',
  'walk.step.softmax.title': 'Softmax: scores become weights',
  'walk.step.softmax.explain':
    'α₂ⱼ = e^ω₂ⱼ / Σₖ e^ω₂ₖ: journey’s six scores become six positive weights that sum to 1 (the total is printed under the column).',
  'walk.step.context.title': 'The context vector z⁽²⁾',
  'walk.step.context.explain':
    'z⁽²⁾ = Σⱼ α₂ⱼ · x⁽ʲ⁾: each input vector, scaled by journey’s weight for it, summed. It is x⁽²⁾ enriched with the rest of the sentence.',
  'walk.step.all.title': 'Every query at once',
  'walk.step.all.explain':
    'Doing the same for all six queries gives a 6 × 6 weight matrix (each column sums to 1) and six context vectors — one matrix product in code.',
  'walk.step.projections.title': 'Trainable weights: q, k, v',
  'walk.step.projections.explain':
    'Real attention first projects each x through three matrices: q = x·W_q, k = x·W_k, v = x·W_v (here d_out = 2). Training learns these matrices.',
  'walk.step.projections.ours':
    'These W_q, W_k, W_v are this app’s own fixed matrices, chosen to keep the numbers readable; the book draws random ones (torch.manual_seed(123)), so its numbers differ from here on.',
  'walk.step.qk.title': 'Scores are now q · k',
  'walk.step.qk.explain':
    'The same grid, but each score is query q⁽ⁱ⁾ · key k⁽ʲ⁾: a token can look for something different from what it offers.',
  'walk.step.scale.title': 'Why divide by √d_k?',
  'walk.step.scale.explain':
    'Before softmax the scores are divided by √d_k (here √2 ≈ 1.41; in GPT-2 small √64 = 8). Left: with the division; right: without.',
  'walk.step.scale.question': 'Without ÷ √d_k, journey’s weights will be…',
  'walk.step.scale.sharper': 'sharper (more on the top keys)',
  'walk.step.scale.flatter': 'flatter (more evenly spread)',
  'walk.step.scale.same': 'the same',
  'walk.step.scale.answer':
    'Sharper: bigger scores make softmax peakier. Journey’s top weight goes from {on} to {off}, and its entropy falls from {hOn} to {hOff} nats. With d_k = 64 and no scaling, softmax would pick almost one key and learning would stall.',
  'walk.step.weightsZ.title': 'Weights and context vectors',
  'walk.step.weightsZ.explain':
    'softmax(q·k / √d_k) for every query, then z = Σⱼ α_ij · v⁽ʲ⁾: now the values, not the inputs, are mixed (d_out = 2).',
  'walk.step.mask.title': 'The causal mask',
  'walk.step.mask.explain':
    'A model that predicts the next word must not peek at it: each query sees only itself and earlier keys. Hidden cells get weight 0 and the rest are renormalised.',
  'walk.step.mask.question': 'With the mask on, where does all of “Your”’s weight go? Click that cell in Your’s column.',
  'walk.step.mask.answer':
    '“Your” is the first token, so the only key it may see is itself: weight {w}. “journey” now splits its weight between “Your” and itself.',
  'walk.step.realScores.title': 'Your sentence in a real head: q·k and ÷√d_k',
  'walk.step.realScores.explain':
    'The same grid on layer {layer}, head {head} of {model}, with the text you typed: {T} tokens, d_k = {dk}. Dots are raw q·k; open it to step through the stages.',
  'walk.step.realSoftmax.title': 'Mask and softmax in the real head',
  'walk.step.realSoftmax.explain':
    'Exactly the book’s recipe: later keys struck out, then softmax per query. Each column sums to 1. Try the mask and scaling toggles in the attention view.',
  'walk.step.realValues.title': 'From weights to the embedding update',
  'walk.step.realValues.explain':
    'The finished weights mix the value vectors into z; z · W_O is the head’s ΔE, added to the token’s embedding in the residual stream.',
  'walk.step.atlas.title': 'Find the previous-token head',
  'walk.step.atlas.explain':
    'Every head of every layer, on your sentence (keys down, queries across, first {n} tokens). A previous-token head puts each query’s weight on the token just before it.',
  'walk.step.atlas.question': 'Which head is the previous-token head? Click it.',
  'walk.step.atlas.answer':
    'Layer {layer}, head {head} has the highest previous-token score: {score} of each query’s weight sits on the token before it (a diagonal just off the main one).',
  'walk.step.atlas.none':
    'No head on this model scores above {threshold} (best: layer {layer}, head {head} at {score}); GPT-2 small has several — see Models….',
  'walk.open': 'Open in the attention view at “{stage}”',
  'walk.openHead': 'Open layer {layer}, head {head}',
  'walk.noText': 'Type a sentence above to see these steps on the real model.',
  'walk.matrix': 'W_{name} (3 × 2)',
  'start.heading': 'New to attention? Start here.',
  'start.body':
    'The walkthrough goes from the six-token example of Raschka’s chapter 3 to a real GPT-2, step by step, asking you to predict before it shows.',
  'start.button': 'Start the walkthrough',
  'start.or': 'Or type a sentence above and explore the attention view.',
  'views.walkthrough': 'Walkthrough',
  'views.attention': 'Attention (one head)',
  'views.atlas': 'Heads: atlas and compare',
  'views.contributions': 'Contributions',
  'export.data': 'Export data (.zip)',
  'export.png': 'Save PNG',
  'export.svg': 'Save SVG',
  'export.working': 'Preparing the export…',
  'export.progress': 'Exporting {tokens} tokens × {hooks} hooks as .npy… {seconds} s',
  'export.titleModel': 'Attention Atlas · {model}',
  'export.titleText': 'Text: “{text}”',
  'export.titleToggles': 'causal mask {mask} · scaling by 1/√d_k {scale}',
  'export.on': 'on',
  'export.off': 'off',
  'export.whatGrid': 'Layer {layer}, head {head} · stage: {stage}',
  'export.whatCompare': 'Compare: {heads} · stage: weights',
  'export.whatAtlas': 'Every head · order: {order}',
  'export.whatChart': '{chart} · layer {layer}, head {head} · token {token}',
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
  'atlas.enlargedAria': 'Layer {layer}, head {head}, enlarged with its tokens',
  'atlas.noneQualifies':
    'No head on this model scores above {threshold} for “{score}” (best: {best}). GPT-2 small has several — get it from Models….',
  'atlas.noneLabelled':
    'No head on this model earns a label on this text (thresholds: previous-token {prev}, first-token {first}, local {local}, induction {induction}). GPT-2 small has several — get it from Models….',
  'label.previous-token': 'previous token',
  'label.first-token': 'first token / sink',
  'label.local': 'local',
  'label.induction': 'induction',
  'atlas.short.previous-token': 'prev',
  'atlas.short.first-token': 'sink',
  'atlas.short.local': 'local',
  'atlas.short.induction': 'ind',
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
  'contrib.arrows': 'ΔE of each head',
  'contrib.after': 'E′ after attention',
  'contrib.sourcesHeading': 'Where layer {layer}, head {head} takes from',
  'contrib.moved': '‖w · v W_O‖',
  'contrib.weight': 'weight w',
  'contrib.sourcesNote':
    'Value-weighted attention: a big weight on a small value moves nothing. Bars sum (as vectors) to this head’s ΔE.',
  'contrib.writesHeading': 'What layer {layer}, head {head} writes',
  'contrib.raises': 'Raises the logit of',
  'contrib.lowers': 'Lowers the logit of',
  'contrib.tie': '{count} tokens tie (e.g. {examples} …)',
  'contrib.tieTitle':
    'These tokens have exactly the same effect, so no order among them means anything; usually tokens the model never saw in training, which share one embedding row.',
  'contrib.writesNote':
    'Direct effect of this head’s ΔE on the next-token logits, through the final LayerNorm’s scale and the unembedding.',
  'library.open': 'Models…',
  'library.title': 'Models',
  'library.close': 'Close',
  'library.loading': 'Loading the model…',
  'library.building': 'building the instrumented graph: {pct}%',
  'library.progress': '{file}: {received} of {total} · {rate}/s · {left} left',
  'library.minutes': '{n} min',
  'library.seconds': '{n} s',
  'library.cancel': 'Cancel',
  'library.downloadedBuilding': 'Downloaded and verified; building the instrumented graph…',
  'library.done': 'Downloaded, verified and loaded.',
  'library.cancelled': 'Cancelled; what was downloaded is kept, Resume continues from there.',
  'library.kind.bundled': 'bundled',
  'library.kind.downloaded': 'downloaded',
  'library.kind.hfCache': 'Hugging Face cache',
  'library.kind.folder': 'opened',
  'library.kind.downloadable': 'on the Hub',
  'library.onDisk': '{size} on disk',
  'library.download': '≈{size} to download',
  'library.memory': 'needs ≈{size} of memory',
  'library.partial': '{size} already downloaded',
  'library.inUse': 'In use',
  'library.use': 'Use',
  'library.downloadButton': 'Download',
  'library.resume': 'Resume',
  'library.remove': 'Remove',
  'library.discard': 'Discard partial',
  'library.show': 'Show in folder',
  'library.openFolder': 'Open model folder…',
  'library.openFile': 'Open model file…',
  'library.openFileTitle': 'One checkpoint file: nanoGPT’s ckpt.pt, the book’s model.pth, or a model.safetensors',
  'library.needs.heads':
    '{file} is {format} without its configuration. Its tensors say: {layers} layers, width {dModel}, {ctx} positions, {vocab} tokens, q/k/v biases: {qkv}. Only the number of heads is missing.',
  'library.needs.nHeads': 'Number of heads',
  'library.needs.divides': 'must divide the width {dModel}; the book’s GPT-2 124M uses 12',
  'library.needs.open': 'Open with these heads',
  'library.needs.vocabulary':
    '{file} has a {rows}-token vocabulary and no meta.pkl or vocab.json was found beside it. Choose the vocabulary it was trained with.',
  'library.needs.pickVocabulary': 'Choose vocabulary file…',
  'library.needs.vocabularyCli': 'In a browser, start the server with --vocab <file>.',
  'library.yes': 'yes',
  'library.no': 'no',
  'format.hf-gpt2': 'Hugging Face GPT-2',
  'format.nanogpt': 'nanoGPT',
  'format.book': 'the book’s GPTModel',
  'vocab.gpt2': 'GPT-2’s tokenizer',
  'vocab.chars': '{n} characters ({file})',
  'vocab.list': '{n} tokens ({file})',
  'vocab.unused': '{n} padding rows unused',
  'model.source': '{format} · {file} · {vocab}',
  'input.noEot': 'This model’s vocabulary has no <|endoftext|> token',
  'input.outside': 'Not in this model’s vocabulary, so left out: {chars}',
  'library.desktopOnly': 'Needs the desktop app',
  'library.graphBuilt': 'Instrumented graph: {size}, built in {time}',
  'library.graphCached': 'Instrumented graph: {size}, from the cache',
  'library.downloading': 'Downloading…',
  'library.graph': 'built graph {size}',
  'library.removeGraph': 'Remove built graph',
  'library.hubNote': 'Downloads honour HF_ENDPOINT, HF_TOKEN and proxy settings.',
  'status.analyzing': 'Analysing…',
  'status.loading': 'Loading the model…',
  'error.noEngine': 'The engine is not connected: open Attention Atlas through the desktop app or `npm run web`.',
  'error.generic': 'Something went wrong: {message}',
  'model.dims': '{layers} layers × {heads} heads, d_model {dModel}, context {ctx} tokens',
  'lang.label': 'Language',
  'lang.en': 'English',
  'lang.zh-CN': '简体中文',
  // issue 20
  'formed.open': 'How its heads formed',
  'formed.title': 'How this model’s heads formed',
  'formed.close': 'Close',
  'formed.score': 'Score',
  'formed.axisSteps': 'training step (log scale)',
  'formed.threshold': 'label threshold {value}',
  'formed.tooltip': 'step {step} · {tokens} M tokens seen',
  'formed.note':
    'One line per head: its score at {rows} points of training up to step {last}, as recorded in training-log.json beside the weights. Previous-token and first-token scores are on held-out text, induction on the repeated random tokens the head atlas uses. In colour: the three heads that score highest at the end.',
  // issue 18
  'score.heading': 'Why this score: where q·k comes from',
  'score.sub':
    'q·k of query “{query}” {q} with key “{key}” {k}, split exactly into terms: which part of the query’s residual stream meets which part of the key’s.',
  'score.term': 'query side: {q} × key side: {k}',
  'score.corner': 'query ↓ key →',
  'score.sum': 'Σ of all terms = {sum}; q·k from the model = {total}',
  'score.note':
    'Rows: parts of the query token’s residual stream; columns: the key token’s. Click a layer to open its heads, b_O and MLP. LayerNorm’s scale is frozen at each token’s value; “bias” is LayerNorm’s β and the q/k bias.',
  'score.part.embed': 'token embedding',
  'score.part.pos': 'position',
  'score.part.bias': 'bias (LayerNorm β, q/k bias)',
  'score.part.bO': 'attention bias of layer {layer}',
  'score.part.mlp': 'MLP of layer {layer}',
  'score.part.layer': 'all of layer {layer}',
  'score.part.head': 'head {name}',
  'score.part.labelledHead': '{label} head {name}',
  'score.short.embed': 'tok',
  'score.short.pos': 'pos',
  'score.short.bias': 'bias',
  'evidence.heading': 'What head L{layer}H{head} does: evidence',
  'evidence.label': 'label',
  'evidence.score': 'score',
  'evidence.threshold': 'named at',
  'evidence.from': 'measured on',
  'evidence.source.text': 'this text ({n} tokens)',
  'evidence.source.probe': 'probe: {sequences} runs of {n} random tokens, repeated',
  'evidence.source.probeRunning': 'probe: running…',
  'evidence.duplicate': 'duplicate token',
  'evidence.local.yields': '; not named local: it is the previous-token pattern',
  'evidence.duplicate.onText': '; this text: {score}',
  'evidence.duplicate.noRepeat': '; no token repeats in this text',
  'evidence.ablate': 'Knock this head out and watch “{token}” {q}:',
  'evidence.ablateZero': 'Zero it',
  'evidence.ablateMean': 'Mean over the text',
  'evidence.running': 'Running the later layers without this head…',
  'evidence.resultZero':
    'Head output set to zero at every token; the later layers rerun exactly. KL(before ‖ after) = {kl} nats.',
  'evidence.resultMean':
    'Head output replaced by its mean over this text; the later layers rerun exactly. KL(before ‖ after) = {kl} nats.',
  'evidence.clean': 'with the head',
  'evidence.ablated': 'without',
  'evidence.deltaHeading': 'How much the embedding E of this token changes, layer by layer',
  'evidence.layer': 'after layer {layer}',
  'evidence.delta': '‖ΔE‖ {delta} ({pct}%)',
  'sink.toggle': 'Sink-aware view',
  'sink.explain':
    'A view choice, not the model: hides the first token’s column (where many heads park spare attention) and rescales each row so the rest sums to 1.',
  'sink.legend': 'sink-aware view: first token hidden, rows renormalised',
  'sink.share': 'sink share: {pct}% of the weight on the first token',
  'view.save': 'Save view (.json)',
  'view.saveTitle':
    'The state of this view (model, text, head, stage, toggles) as a small file; drop it, or an exported PNG/SVG, on the window to reopen it.',
  'view.restored': 'View restored from the file.',
  'view.otherModel':
    'View restored, but it was made with model {id} (weights {hash}…), not the loaded one: the numbers may differ.',
  'view.openFailed': 'Could not open that view: {message}',
} as const;

export type MessageKey = keyof typeof en;
export const LOCALES = ['en', 'zh-CN'] as const;
export type Locale = (typeof LOCALES)[number];
export const catalogs: Record<Locale, Record<MessageKey, string>> = { en, 'zh-CN': zhCN };

/**
 * The current locale. A plain object here (unit tests, Node); the renderer swaps in a Svelte
 * $state object (lib/locale.svelte.ts) so every t() in a template or effect re-runs on a switch.
 */
let current: { locale: Locale } = { locale: 'en' };

export function bindLocaleState(state: { locale: Locale }): void {
  current = state;
}

export function getLocale(): Locale {
  return current.locale;
}

export function setLocale(l: string): void {
  if ((LOCALES as readonly string[]).includes(l)) current.locale = l as Locale;
}

export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const template = catalogs[current.locale][key] ?? en[key];
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}
