#!/usr/bin/python3
"""Loss curve of a training run for the model card.

    /usr/bin/python3 tools/train-tiny-gpt2/plot_loss.py <training-log.json> <out.png> \
        [--unigram NATS] [--before train.log --before-steps N --batch-tokens B]

--before adds the points an earlier run printed (a train.log of train.py) that this run resumed
from after N steps, so the curve shows the model's whole training.
"""
import argparse
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("log")
ap.add_argument("out")
ap.add_argument("--unigram", type=float)
ap.add_argument("--before")
ap.add_argument("--before-steps", type=int, default=0)
ap.add_argument("--batch-tokens", type=int, default=16 * 256)
a = ap.parse_args()

log = json.load(open(a.log))
per_step = a.batch_tokens
offset = a.before_steps
m = lambda steps: [(s + offset) * per_step / 1e6 for s in steps]  # noqa: E731
fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
if a.before:
    pts = [tuple(map(float, x)) for x in re.findall(r"step (\d+) lr \S+ train ([\d.]+) held-out ([\d.]+)", open(a.before).read())]
    ax.plot([s * per_step / 1e6 for s, _, _ in pts], [t for _, t, _ in pts], "s--", color="#0072B2", alpha=0.6, markersize=3,
            label="training loss, first phase")
    ax.plot([s * per_step / 1e6 for s, _, _ in pts], [h for _, _, h in pts], "s--", color="#D55E00", alpha=0.6, markersize=3,
            label="held-out (16 windows), first phase")
    ax.axvline(offset * per_step / 1e6, color="#999999", linewidth=0.8)
ax.plot(m(log["steps"]), log["train_loss"], color="#0072B2", label="training loss (EMA)")
ax.plot(m(log["eval_steps"]), log["heldout_loss"], "o-", color="#D55E00", markersize=3, label="held-out loss (16 windows)")
if a.unigram:
    ax.axhline(a.unigram, color="#666666", linestyle=":", linewidth=1, label="unigram baseline (held-out)")
ax.set_xlabel("training tokens seen (millions; repeated spans included)")
ax.set_ylabel("cross-entropy (nats/token)")
ax.set_ylim(top=8.0)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
ax.set_title("tiny-gpt2-brown: GPT-2 (4 layers × 6 heads) on the Brown corpus")
fig.tight_layout()
fig.savefig(a.out)
