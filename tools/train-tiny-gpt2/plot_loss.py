#!/usr/bin/python3
"""Loss curve of a training run for the model card.

    /usr/bin/python3 tools/train-tiny-gpt2/plot_loss.py <training-log.json> <out.png> \
        [--unigram NATS]
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("log")
ap.add_argument("out")
ap.add_argument("--unigram", type=float)
a = ap.parse_args()

log = json.load(open(a.log))
steps, train, eval_steps, held = log["steps"], log["train_loss"], log["eval_steps"], log["heldout_loss"]
prev = log.get("best_prev_token", [])
tok = log["args"]["batch"] * log["args"]["n_ctx"] / 1e6  # millions of tokens per step

fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
ax.plot([s * tok for s in steps], train, color="#0072B2", label="training loss (EMA)")
ax.plot([s * tok for s in eval_steps], held, "o-", color="#D55E00", markersize=2,
        label="held-out loss (first 16 windows of 256)")
start = 0
for i, p in enumerate(log.get("phases", [])):  # mark where each resumed phase began (train.py --resume)
    if i > 0:
        ax.axvline(start * tok, color="#CC79A7", linestyle="--", linewidth=1,
                   label="Brown-only finish" if p["args"].get("extra_until") == 0 else "resumed")
    start += p["steps"]
if a.unigram:
    ax.axhline(a.unigram, color="#666666", linestyle=":", linewidth=1, label="unigram baseline (all held-out text)")
ax.set_xlabel("training tokens seen (millions; repeated spans included)")
ax.set_ylabel("cross-entropy (nats/token)")
ax.set_ylim(top=8.0)
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="lower left")
if len(prev) == len(eval_steps):  # whether the previous-token head holds while the loss falls
    ax2 = ax.twinx()
    ax2.plot([s * tok for s in eval_steps], prev, color="#009E73", linewidth=1,
             label="best previous-token score (right axis)")
    ax2.set_ylim(0, 1.02)
    ax2.set_ylabel("previous-token score (held-out)", color="#009E73")
    ax2.legend(fontsize=8, loc="center left")
corpus = "Brown + public-domain text" if log["args"].get("extra_frac") else "the Brown corpus"
ax.set_title(f"tiny-gpt2-brown: GPT-2 (4 layers × 6 heads) on {corpus}")
fig.tight_layout()
fig.savefig(a.out)
