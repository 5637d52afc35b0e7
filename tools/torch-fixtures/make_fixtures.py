"""Writes the real-torch fixtures in test/fixtures/torch/ that test/unit/torch-file.test.ts reads.

Run with a Python that has torch (Debian: apt-get install python3-torch; these were made with
torch 1.13.1):  /usr/bin/python3 tools/torch-fixtures/make_fixtures.py test/fixtures/torch
Then format the JSON as the repo does: npx prettier --write test/fixtures/torch/expected.json
Each file is a few KB. expected.json holds every tensor's shape and row-major values (as float32
values rounded to double), so the tests need no Python.
"""

import collections
import io
import json
import os
import pickle
import sys
import zipfile

import torch

out = sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/torch"
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
expected = {"torch_version": torch.__version__, "files": {}}


def values(t):
    if not t.is_floating_point():
        return {"dtype": str(t.dtype), "shape": list(t.shape), "values": t.contiguous().view(-1).int().tolist()}
    return {"dtype": str(t.dtype), "shape": list(t.shape), "values": t.detach().float().contiguous().view(-1).tolist()}


def record(name, sd, extra=None):
    entry = {"tensors": {k: values(v) for k, v in sd.items()}}
    if extra is not None:
        entry.update(extra)
    expected["files"][name] = entry


# 1. A bare state dict (the book's torch.save(model.state_dict(), "model.pth")) with F32, F16,
#    BF16 and a transposed view: torch saves the view's whole storage with swapped strides.
base = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4 - 0.5
bare = collections.OrderedDict(
    [
        ("w32", torch.randn(2, 3)),
        ("w16", torch.tensor([0.5, -1.25, 3.140625, 65504.0], dtype=torch.float16)),
        ("wbf16", torch.tensor([[1.0, -2.5], [0.0078125, 300.0]], dtype=torch.bfloat16)),
        ("wT", base.t()),
        ("bias", torch.randn(3)),
        # Non-float buffers (HF GPT-2's causal mask, a counter): must load as refs, not fail.
        ("attn.mask", torch.tril(torch.ones(3, 3, dtype=torch.bool))),
        ("num_batches_tracked", torch.tensor(7, dtype=torch.int64)),
    ]
)
assert not bare["wT"].is_contiguous()
torch.save(bare, os.path.join(out, "model.pth"))
record("model.pth", bare)


# 2. A nanoGPT-style ckpt.pt: tied lm_head/wte (one storage), AdamW state, 0-d best_val_loss.
class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = torch.nn.ModuleDict(
            dict(wte=torch.nn.Embedding(8, 4), wpe=torch.nn.Embedding(5, 4), ln_f=torch.nn.LayerNorm(4))
        )
        self.lm_head = torch.nn.Linear(4, 8, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying, as nanoGPT


model = Tiny()
opt = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
ids = torch.tensor([[1, 2, 3]])
x = model.transformer.ln_f(model.transformer.wte(ids) + model.transformer.wpe(torch.arange(3)))
torch.nn.functional.cross_entropy(model.lm_head(x).view(-1, 8), torch.tensor([2, 3, 4])).backward()
opt.step()
model_args = dict(n_layer=0, n_head=1, n_embd=4, block_size=5, bias=True, vocab_size=8, dropout=0.0)
config = dict(out_dir="out-tiny", eval_interval=250, learning_rate=6e-4, compile=False, dataset="shakespeare_char", init_from="scratch", wandb_run_name=None)
ckpt = {
    "model": model.state_dict(),
    "optimizer": opt.state_dict(),
    "model_args": model_args,
    "iter_num": 250,
    "best_val_loss": torch.tensor(1.25),
    "config": config,
}
torch.save(ckpt, os.path.join(out, "ckpt.pt"))
record("ckpt.pt", ckpt["model"], {"model_args": model_args, "iter_num": 250, "best_val_loss": 1.25, "config": config})

# 3. The book's checkpoint dict: model_state_dict + optimizer_state_dict.
book = {"model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict()}
torch.save(book, os.path.join(out, "model_and_optimizer.pth"))
record("model_and_optimizer.pth", book["model_state_dict"])

# 4. A torch.compile'd model's state dict: every key starts with "_orig_mod." (built by hand:
#    torch 1.13 has no torch.compile, but the file is the same).
compiled = collections.OrderedDict(("_orig_mod." + k, v) for k, v in model.state_dict().items())
torch.save(compiled, os.path.join(out, "compiled.pt"))
record("compiled.pt", model.state_dict())

# 5. nanoGPT's data/shakespeare_char/meta.pkl, written as prepare.py does.
text = "First Citizen:\nBefore we proceed any further, hear me speak.\n"
chars = sorted(list(set(text)))
meta = {"vocab_size": len(chars), "itos": {i: ch for i, ch in enumerate(chars)}, "stoi": {ch: i for i, ch in enumerate(chars)}}
with open(os.path.join(out, "meta.pkl"), "wb") as f:
    pickle.dump(meta, f)
expected["files"]["meta.pkl"] = {"vocab_size": len(chars), "chars": "".join(chars)}


# 6. A hostile checkpoint: data.pkl calls os.system. Pickling the class below only records the
#    call; nothing runs here, and a safe loader must refuse the global by name.
class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/atlas-pwned",))


buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
    z.writestr("evil/data.pkl", pickle.dumps({"model": Evil()}, protocol=2))
    z.writestr("evil/version", "3\n")
with open(os.path.join(out, "evil.pt"), "wb") as f:
    f.write(buf.getvalue())
try:
    torch.load(os.path.join(out, "evil.pt"), weights_only=True)
    raise SystemExit("torch loaded evil.pt with weights_only=True?!")
except pickle.UnpicklingError as e:
    expected["files"]["evil.pt"] = {"torch_weights_only_error": str(e).splitlines()[0][:200]}

# Sanity: torch's own safe loader reads the tensor-only files. (torch 1.13's weights_only
# unpickler lacks BINFLOAT, so files holding Python floats (lr, dropout) need a plain load there.)
for name in ["model.pth", "compiled.pt"]:
    torch.load(os.path.join(out, name), weights_only=True)
for name in ["ckpt.pt", "model_and_optimizer.pth"]:
    torch.load(os.path.join(out, name))

with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", sorted(os.listdir(out)))
