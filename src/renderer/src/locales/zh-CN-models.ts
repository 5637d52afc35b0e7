/**
 * Chinese for the model texts the engine sends (the bundled model's atlas-model.json and the
 * Hub catalogue in src/engine/hub.ts), keyed by the English text: data, not UI strings, so an
 * unknown or changed text is shown as sent. test/unit/i18n.test.ts checks these stay covered.
 */
export const zhModelTexts: Record<string, string> = {
  'Tiny GPT-2 trained on the Brown corpus and public-domain text (bundled)':
    '在 Brown 语料库和公有领域文本上训练的小型 GPT-2（内置）',
  "A small GPT-2 (4 layers × 6 heads, 11.5M parameters) trained by this project on the Brown corpus, US State of the Union addresses and Moby-Dick — not OpenAI's GPT-2. Same architecture, file layout and tokenizer, so the app works offline. Head L0H0 was initialised as a previous-token head before training (see its model card); the other heads are far less specialised than GPT-2 small's (get it from Models…).":
    '一个小型 GPT-2（4 层 × 6 个头，1150 万个参数），由本项目在 Brown 语料库、美国国情咨文和《白鲸》上训练——不是 OpenAI 的 GPT-2。架构、文件布局和分词器都相同，所以应用可以离线使用。头 L0H0 在训练前被初始化为前一词元头（见模型卡）；其他头远不如 GPT-2 small 的头那样分工明确（可从“模型…”下载 GPT-2 small）。',
  'The original 124M-parameter GPT-2: 12 layers × 12 heads, 1024-token context.':
    '原版 GPT-2，1.24 亿个参数：12 层 × 12 个头，上下文 1024 个词元。',
  'GPT-2 small distilled to 6 layers × 12 heads (82M parameters); faster, a little less fluent.':
    '由 GPT-2 small 蒸馏为 6 层 × 12 个头（8200 万个参数）；更快，生成的文字略欠流畅。',
  'The 355M-parameter GPT-2: 24 layers × 16 heads; slower, with more structure to find.':
    '3.55 亿个参数的 GPT-2：24 层 × 16 个头；更慢，但能发现的结构更多。',
};
