"""Loads the files tools/torch-fixtures/write-ts-files.ts wrote with real torch and checks values.

torch.load(weights_only=True) for every file torch's safe loader can read (torch 1.13's lacks the
BINFLOAT opcode and _rebuild_from_type_v2, so those files are loaded plainly: we wrote them).
"""

import json
import os
import pickle
import sys

import torch

d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/ts-torch"
expected = json.load(open(os.path.join(d, "expected.json")))
tol = {"F32": 1e-7, "F16": 1e-3, "BF16": 8e-3}
for name, exp in expected.items():
    path = os.path.join(d, name)
    if name == "meta.pkl":
        meta = pickle.load(open(path, "rb"))
        chars = exp["chars"]
        assert meta["vocab_size"] == len(chars)
        assert meta["itos"] == {i: c for i, c in enumerate(chars)} and meta["stoi"] == {c: i for i, c in enumerate(chars)}
        print("ok", name, meta["vocab_size"], "chars")
        continue
    try:
        root = torch.load(path, weights_only=True)
        how = "weights_only=True"
    except pickle.UnpicklingError as e:
        assert not exp["weightsOnly"], e
        root = torch.load(path)
        how = "weights_only=False (1.13's safe loader: " + str(e).split("WeightsUnpickler error: ")[-1][:60] + ")"
    sd = root if exp["key"] == "" else root[exp["key"]]
    for k, t in exp["tensors"].items():
        got = sd[k]
        assert list(got.shape) == t["shape"], (k, got.shape, t["shape"])
        want = torch.tensor(t["values"], dtype=torch.float64).reshape(t["shape"])
        err = (got.double() - want).abs().max().item() if got.numel() else 0.0
        assert err <= tol[t["dtype"]] * max(1.0, want.abs().max().item() if got.numel() else 1.0), (name, k, err)
        assert str(got.dtype) == {"F32": "torch.float32", "F16": "torch.float16", "BF16": "torch.bfloat16"}[t["dtype"]]
    if name == "tied.pt":
        assert sd["lm_head.weight"].data_ptr() == sd["transformer.wte.weight"].data_ptr(), "tied weights lost their shared storage"
        assert not sd["attn.c_attn.weight"].is_contiguous()
    if name == "ckpt.pt":
        assert root["model_args"]["dropout"] == 0.0 and isinstance(root["model_args"]["dropout"], float)
        assert abs(root["best_val_loss"].item() - 1.4697) < 1e-6 and root["best_val_loss"].dim() == 0
        assert root["iter_num"] == 5000 and root["config"]["wandb_run_name"] is None
        assert root["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
        assert root["optimizer"]["state"][0]["step"].dim() == 0
    if name == "attrs.pt":
        # torch 1.13's _rebuild_from_type_v2 drops a plain Tensor's attributes; newer torch keeps them.
        assert type(sd["h.0.w"]) is torch.Tensor
    print("ok", name, how, len(exp["tensors"]), "tensors")
print("all files load in torch", torch.__version__)
