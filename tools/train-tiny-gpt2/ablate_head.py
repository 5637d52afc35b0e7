#!/usr/bin/python3
"""How much a trained model relies on each head: held-out loss with one head's output zeroed.

    /usr/bin/python3 tools/train-tiny-gpt2/ablate_head.py <model dir> <data dir> [--windows N]

Loads the exported model.safetensors (full 50257-row vocabulary) into train.py's GPT2 and prints,
for every head, the held-out cross-entropy (nats/token) with that head's z zeroed, minus the
intact model's. Zero-ablation: the head's contribution to the residual stream (z W_O) is removed,
c_proj's bias stays. A quick check for the model card, not the evaluation (tools/eval/evaluate.ts).
"""
import argparse
import json
import os

import numpy as np
import torch

import train as T

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("data")
ap.add_argument("--windows", type=int, default=64)
a = ap.parse_args()

cfg = json.load(open(os.path.join(a.model, "config.json")))
model = T.GPT2(cfg["n_layer"], cfg["n_head"], cfg["n_embd"], cfg["n_ctx"], 0.0)
T.load_hf_state_dict(model, os.path.join(a.model, "model.safetensors"))
held = np.fromfile(os.path.join(a.data, "heldout.u16"), dtype="<u2")
torch.set_num_threads(2)

base = T.evaluate(model, held, cfg["n_ctx"], a.windows)
print(f"intact held-out loss {base:.4f} nats/token ({a.windows} windows of {cfg['n_ctx']})")
out = {"intact": base, "ablated": []}
for li, b in enumerate(model.h):
    for h in range(cfg["n_head"]):
        b.ablate = h
        loss = T.evaluate(model, held, cfg["n_ctx"], a.windows)
        b.ablate = None
        out["ablated"].append({"layer": li, "head": h, "loss": loss, "delta": loss - base})
        print(f"L{li}H{h}: {loss:.4f} ({loss - base:+.4f})", flush=True)
out["windows"] = a.windows
print(json.dumps(out))
