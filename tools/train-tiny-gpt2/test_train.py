#!/usr/bin/python3
"""Checks train.py's CPU path in seconds, on synthetic token files (no corpus needed):

    /usr/bin/python3 tools/train-tiny-gpt2/test_train.py

- a tiny model trains a few steps and writes model.safetensors, config.json, training-log.json;
- the log holds per-head score rows (previous_token, first_token, induction: L*H each) at the
  scoring interval and at every checkpoint step;
- checkpoints appear at the log-spaced steps 1, 2, 4, 8 and at the last step, each loadable;
- the induction probe's token ids are the engine's (src/engine/engine.ts, inductionProbe);
- --device cuda without a GPU stops at once with a clear message;
- plot_heads.py draws the log.
Not part of `npm test` (torch is an offline tool's dependency, not the app's).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train  # noqa: E402


def main():
    tmp = tempfile.mkdtemp(prefix="train-test-")
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    rng = np.random.default_rng(0)
    rng.integers(0, 2000, size=20000).astype("<u2").tofile(os.path.join(data, "train.u16"))
    rng.integers(0, 2000, size=4000).astype("<u2").tofile(os.path.join(data, "heldout.u16"))
    out = os.path.join(tmp, "out")
    cmd = [sys.executable, os.path.join(HERE, "train.py"), "--data", data, "--out", out, "--device", "cpu",
           "--n-layer", "2", "--n-head", "2", "--d-model", "16", "--n-ctx", "32", "--batch", "2",
           "--max-steps", "10", "--minutes", "2", "--warmup", "2", "--eval-every", "5", "--score-every", "3",
           "--score-windows", "2", "--shared-vocab", "--pos-init", "sinusoid", "--attn-dropout", "0",
           "--random-repeat-frac", "0.5", "--lr-hold-frac", "0.5", "--threads", "1"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    for f in ("model.safetensors", "config.json", "training-log.json"):
        assert os.path.exists(os.path.join(out, f)), f
    log = json.load(open(os.path.join(out, "training-log.json")))
    assert log["complete"] and log["device"] == "cpu" and log["final_steps"] == 10
    hs = log["head_scores"]
    assert hs["layers"] == 2 and hs["heads"] == 2
    # every 3 steps, every checkpoint step (1, 2, 4, 8) and the end
    assert hs["steps"] == [1, 2, 3, 4, 6, 8, 9, 10], hs["steps"]
    assert len(hs["tokens"]) == len(hs["steps"])
    for k in ("previous_token", "first_token", "induction"):
        assert len(hs[k]) == len(hs["steps"]) and all(len(r) == 4 for r in hs[k]), k
        assert all(0 <= v <= 1 for r in hs[k] for v in r), k

    ckpts = sorted(os.listdir(os.path.join(out, "checkpoints")))
    assert ckpts == ["step-00000001", "step-00000002", "step-00000004", "step-00000008", "step-00000010"], ckpts
    for c in ckpts:
        t = train.read_safetensors(os.path.join(out, "checkpoints", c, "model.safetensors"))
        assert tuple(t["wte.weight"].shape) == (train.VOCAB, 16)
        assert json.load(open(os.path.join(out, "checkpoints", c, "config.json")))["n_layer"] == 2

    ids, n = train.engine_probe_ids(1024)  # values printed by the engine's generator (node)
    assert n == 50 and ids.shape == (8, 101) and ids[0, 0] == train.EOT
    assert ids[0, 1:6].tolist() == [1787, 28263, 12986, 21598, 40154]
    assert ids[7, -3:].tolist() == [40551, 30175, 32285]
    assert (ids[:, 1:51] == ids[:, 51:]).all()
    assert train.engine_probe_ids(64)[1] == 31  # min(50, (min(n_ctx, 128) - 1) // 2)

    r = subprocess.run(cmd[:-1] + ["1", "--device", "cuda"], capture_output=True, text=True)
    import torch
    if not torch.cuda.is_available():
        assert r.returncode != 0 and "sees no CUDA GPU" in r.stderr, r.stderr

    png = os.path.join(tmp, "heads.png")
    subprocess.run([sys.executable, os.path.join(HERE, "plot_heads.py"), os.path.join(out, "training-log.json"), png],
                   check=True)
    assert os.path.getsize(png) > 1000
    print(f"ok ({tmp})")


if __name__ == "__main__":
    main()
