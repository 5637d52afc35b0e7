#!/usr/bin/python3
"""Loss curve of a training run (training-log.json from train.py) as a PNG for the model card.

    /usr/bin/python3 tools/train-tiny-gpt2/plot_loss.py <training-log.json> <out.png> [unigram_nats]
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

log = json.load(open(sys.argv[1]))
fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
tokens_m = [t / 1e6 for t in log["tokens"]]
ax.plot(tokens_m, log["train_loss"], color="#0072B2", label="training loss (EMA)")
per_step = log["tokens"][0] / log["steps"][0] if log["steps"] else 1
ax.plot([s * per_step / 1e6 for s in log["eval_steps"]], log["heldout_loss"], "o-", color="#D55E00",
        markersize=3, label="held-out loss")
if len(sys.argv) > 3:
    ax.axhline(float(sys.argv[3]), color="#666666", linestyle="--", linewidth=1, label="unigram baseline (held-out)")
ax.set_xlabel("training tokens seen (millions)")
ax.set_ylabel("cross-entropy (nats/token)")
ax.set_ylim(bottom=min(min(log["train_loss"]), min(log["heldout_loss"] or [9])) - 0.3, top=8.5)
ax.grid(alpha=0.3)
ax.legend()
ax.set_title("tiny-gpt2-brown: training on the Brown corpus")
fig.tight_layout()
fig.savefig(sys.argv[2])
