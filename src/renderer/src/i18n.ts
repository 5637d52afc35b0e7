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
  'tokens.heading': 'Tokens ({count})',
  'tokens.empty': 'No tokens yet: type something above.',
  'tokens.truncated': 'Only the first {kept} of {total} tokens fit this model’s context; the rest are not analysed.',
  'tokens.title': 'Token {index}: id {id}',
  'picker.layer': 'Layer',
  'picker.head': 'Head',
  'pattern.heading': 'Attention pattern — layer {layer}, head {head}',
  'pattern.axisQuery': 'Query token (attends from)',
  'pattern.axisKey': 'Key token (attends to)',
  'pattern.tooltip': '{query} → {key}: weight {value}',
  'pattern.caption':
    'Each row is a query; its weights over the keys sum to 1. Cells right of the diagonal are hidden by the causal mask.',
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
