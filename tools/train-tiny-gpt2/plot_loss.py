#!/usr/bin/python3
"""Loss curve (and the best previous-token score) of a training run made of phases, for the card.

    /usr/bin/python3 tools/train-tiny-gpt2/plot_loss.py <phases.json> <out.png> [--unigram NATS]

phases.json lists the phases in order; each has "log" (a train.py stdout log), "batchTokens"
and "name". Every point comes from the lines train.py printed.
"""
import argparse
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LINE = re.compile(r"step (\d+) lr \S+ train ([\d.]+) held-out ([\d.]+)(?: prev-token best L\d+H\d+ ([\d.]+))?")

ap = argparse.ArgumentParser()
ap.add_argument("phases")
ap.add_argument("out")
ap.add_argument("--unigram", type=float)
a = ap.parse_args()

phases = json.load(open(a.phases))
fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=120)
ax2 = ax.twinx()
offset = 0.0
xs, train, held, prev = [], [], [], []
for i, ph in enumerate(phases):
    pts = LINE.findall(open(ph["log"]).read())
    for s, t, h, p in pts:
        x = offset + int(s) * ph["batchTokens"] / 1e6
        xs.append(x)
        train.append(float(t))
        held.append(float(h))
        prev.append(float(p) if p else float("nan"))
    if i > 0:
        ax.axvline(offset, color="#999999", linewidth=0.8)
        ax.text(offset, 7.9, f" {ph['name']}", fontsize=7, color="#555555", va="top")
    offset += ph["steps"] * ph["batchTokens"] / 1e6
ax.plot(xs, train, color="#0072B2", label="training loss (EMA)")
ax.plot(xs, held, "o-", color="#D55E00", markersize=2.5, label="held-out loss (16 windows)")
if a.unigram:
    ax.axhline(a.unigram, color="#666666", linestyle=":", linewidth=1, label="unigram baseline")
ax2.plot(xs, prev, color="#009E73", linestyle="--", label="best previous-token score")
ax2.set_ylim(0, 1)
ax2.set_ylabel("previous-token score (best head)", color="#009E73")
ax.set_xlabel("training tokens seen (millions; synthetic rows included)")
ax.set_ylabel("cross-entropy (nats/token)")
ax.set_ylim(top=8.0)
ax.grid(alpha=0.3)
lines = ax.get_legend_handles_labels()
lines2 = ax2.get_legend_handles_labels()
ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="upper right")
ax.set_title("tiny-gpt2-brown: GPT-2 on the Brown corpus")
fig.tight_layout()
fig.savefig(a.out)
print(f"wrote {a.out}: {len(xs)} points")
