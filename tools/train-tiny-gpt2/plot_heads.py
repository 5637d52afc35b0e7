#!/usr/bin/python3
"""How the model's heads formed, for the model card: every head's previous-token, first-token
and induction score over training, from the `head_scores` train.py records in its log.

    /usr/bin/python3 tools/train-tiny-gpt2/plot_heads.py <training-log.json> <out.png> [--title TEXT]

The scores are the app's (src/shared/head-scores.ts; train.py head_score_row). One line per
head; the three heads that score highest at the end are coloured and named. The dashed line is
the score at which the app names a head (LABEL_THRESHOLDS). A log without head_scores (train.py
before issue 20, e.g. the model bundled before then) has nothing to draw: the script says so and
exits with status 1.
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = [("previous_token", "previous-token score", 0.5), ("first_token", "first-token score", 0.5),
          ("induction", "induction score (engine's probe)", 0.3)]
TOP = ["#0072B2", "#D55E00", "#009E73"]  # Okabe-Ito

ap = argparse.ArgumentParser()
ap.add_argument("log")
ap.add_argument("out")
ap.add_argument("--title")
a = ap.parse_args()

log = json.load(open(a.log))
hs = log.get("head_scores")
if not hs or len(hs.get("steps", [])) < 2:
    sys.exit(f"{a.log}: no per-head scores over training (head_scores) to plot; train.py records them since issue 20")
L, H, steps = hs["layers"], hs["heads"], hs["steps"]

def tokens_text(n):
    return f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n:,}"


fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), dpi=120, sharex=True)
for ax, (key, label, threshold) in zip(axes, PANELS):
    rows = hs[key]
    last = rows[-1]
    top = sorted(range(L * H), key=lambda i: -last[i])[: len(TOP)]
    for i in range(L * H):
        ys = [r[i] for r in rows]
        if i in top:
            c = TOP[top.index(i)]
            ax.plot(steps, ys, color=c, linewidth=1.8, zorder=3, label=f"L{i // H}H{i % H} ({last[i]:.2f})")
        else:
            ax.plot(steps, ys, color="#999999", linewidth=0.7, alpha=0.5, zorder=2)
    ax.axhline(threshold, color="#666666", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_title(label, fontsize=10)
    ax.set_xlabel("training step (log scale)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", title="highest at the end", title_fontsize=7)
axes[0].set_ylabel("score (mean attention weight)")
fig.suptitle(a.title or f"How the heads formed: {L} layers × {H} heads, {log.get('final_steps', steps[-1]):,} steps, "
             f"{tokens_text(log.get('tokens_seen', hs['tokens'][-1]))} tokens", fontsize=11)
fig.tight_layout()
fig.savefig(a.out)
