#!/usr/bin/python3
"""Train the bundled default model: a small GPT-2, exported in the Hugging Face GPT-2 layout.

Offline tool, never part of `npm install`, `npm start` or `npm test`. See README.md beside it.

Input:  the token files written by prepare-data.ts (uint16 GPT-2 token ids).
Output: model.safetensors (F16, HF GPT-2 key names, Conv1D [in, out] weights, tied lm_head),
        config.json (HF GPT-2 config), training-log.json (loss curve, run facts and per-head
        scores over training: see head_score_row), checkpoints/step-NNNNNNNN/ (the same two
        files at log-spaced steps 1, 2, 4, 8, ... and the last step).

Runs on the CPU (Debian's torch 1.13) or a CUDA GPU (--device; torch 2.x there): the code that
differs is only where tensors live (`dev`) and the autocast device; the exported file is the same.

The model is GPT-2 exactly (nanoGPT's model.py is the template): pre-LayerNorm blocks, learned
positions, GELU tanh approximation, LayerNorm eps 1e-5, unembedding tied to wte, biases everywhere.
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 50257
EOT = 50256


class Vocab:
    """The training-time vocabulary: every token that occurs in the training text gets its own
    row, and all the others (never an input, never a target here) share ONE row, exported into
    each of their rows of the full 50257-token table. This is exact, not an approximation: with
    U tokens sharing an embedding e_u, the full softmax's normaliser holds U·exp(h·e_u), which is
    the shared row's logit plus log U. So training computes the real GPT-2 loss of the exported
    model, while the unembedding (most of this model's compute) covers ~33k rows instead of 50k."""

    def __init__(self, train):
        self.seen = np.unique(train).astype(np.int64)
        self.n_unseen = VOCAB - len(self.seen)
        self.shared = len(self.seen)  # index of the shared row
        self.size = len(self.seen) + 1
        self.to_compact = np.full(VOCAB, self.shared, dtype=np.int64)
        self.to_compact[self.seen] = np.arange(len(self.seen))

    def compact(self, ids):
        return self.to_compact[ids.astype(np.int64)]


class Block(nn.Module):
    def __init__(self, d, n_head, n_ctx, dropout, attn_dropout):
        super().__init__()
        self.n_head = n_head
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)
        self.drop = nn.Dropout(dropout)
        self.attn_drop = nn.Dropout(attn_dropout)
        self.register_buffer("mask", torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool)))
        self.ablate = None  # a head index whose output is zeroed (ablate_head.py); None while training

    def attn(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        hd = C // self.n_head
        q = q.view(B, T, self.n_head, hd).transpose(1, 2)
        k = k.view(B, T, self.n_head, hd).transpose(1, 2)
        v = v.view(B, T, self.n_head, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        att = att.masked_fill(~self.mask[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        if not self.training:
            self.last_pattern = att  # read by attention_scores() to watch heads form
        att = self.attn_drop(att)
        y = att @ v  # [B, H, T, hd]
        if self.ablate is not None:
            y[:, self.ablate] = 0
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.drop(self.c_proj(y))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        h = F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")
        return x + self.drop(self.mlp_proj(h))


def sinusoid_frequencies(d):
    """w_m of the sinusoid pair (sin w_m p, cos w_m p) in dimensions 2m, 2m+1, highest first."""
    return torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)


def sinusoid_positions(n_ctx, d, scale):
    """The original Transformer's sinusoids as the *initial* value of the learned wpe (still a
    plain trainable table, so the file is GPT-2 exactly). Position i+1 is a fixed rotation of
    position i, so "attend to the previous token" is one linear map for W_Q/W_K to find; from
    GPT-2's random N(0, 0.02) start a CPU-sized run never found it (attention stayed uniform).
    `scale` is the amplitude of each sine; above the token embeddings' 0.02 so that position is
    a large share of the LayerNorm'd input while the first heads form."""
    pos = torch.arange(n_ctx, dtype=torch.float32)[:, None]
    freq = sinusoid_frequencies(d)
    pe = torch.zeros(n_ctx, d)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe * scale


class GPT2(nn.Module):
    def __init__(self, n_layer, n_head, d, n_ctx, dropout, pos_init="normal", pos_scale=0.1, attn_dropout=None,
                 vocab=None, wte_std=None):
        super().__init__()
        self.vocab = vocab
        rows = vocab.size if vocab else VOCAB
        self.wte = nn.Embedding(rows, d)
        # log U on the shared row's logit (see Vocab); zero everywhere else.
        offset = torch.zeros(rows)
        if vocab:
            offset[vocab.shared] = math.log(max(1, vocab.n_unseen))
        self.register_buffer("logit_offset", offset)
        self.wpe = nn.Embedding(n_ctx, d)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList([Block(d, n_head, n_ctx, dropout, dropout if attn_dropout is None else attn_dropout)
                                for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.apply(self._init)
        # GPT-2's scaled init of the residual projections
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer))
        if wte_std is not None:
            nn.init.normal_(self.wte.weight, 0.0, wte_std)
        if pos_init == "sinusoid":
            with torch.no_grad():
                self.wpe.weight.copy_(sinusoid_positions(n_ctx, d, pos_scale))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for b in self.h:
            x = b(x)
        logits = self.ln_f(x) @ self.wte.weight.t() + self.logit_offset  # tied unembedding
        if targets is None:
            return logits, None
        # The loss in float32 even under bf16 autocast.
        return logits, F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))


def seed_previous_token_heads(model, n_heads, strength, pos_scale):
    """Starts heads 0..n_heads-1 of layer 0 as previous-token heads; everything else keeps
    GPT-2's random start, and training may change these weights like any other.

    Why: two CPU-sized runs never formed a previous-token head from a random start (the best
    head stayed at 0.02-0.04 for 2 M tokens), although every trained GPT-2 has them. This is an
    *initialisation*, in the spirit of mimetic initialisation (Trockman & Kolter, 2023): the
    architecture and the loss are untouched, and whether the head stays is up to the gradient.

    How: it needs the sinusoid start of wpe (--pos-init sinusoid), where position p holds the
    pairs (sin w_m p, cos w_m p). The head's key reads the d_head/2 highest-frequency pairs as
    they are; its query reads them rotated by -w_m, i.e. the pair of position p-1. Then
    q_i . k_j = strength^2 * sum_m cos(w_m (i-1-j)) (times LayerNorm's gain), which peaks at
    j = i-1. W_V / W_O stay random: what the head moves is learned.

    Those d_head pairs of wpe start at amplitude `pos_scale` (1.0), larger than the rest: token
    embeddings grow to RMS ~0.16 while training, and at the sinusoids' usual 0.2 they drown the
    position in LayerNorm's output (measured: the head fell from 0.97 to 0.71 in 200 steps)."""
    b = model.h[0]
    d = b.c_attn.weight.shape[1]
    hd = d // b.n_head
    freq = sinusoid_frequencies(d)
    with torch.no_grad():
        model.wpe.weight[:, :hd] = sinusoid_positions(model.wpe.weight.shape[0], d, pos_scale)[:, :hd]
        # Token embeddings start at zero there, so at first the head sees position only; training
        # may move tokens into those dimensions like any others.
        model.wte.weight[:, :hd] = 0
        w = b.c_attn.weight  # [3d, d]: rows 0..d-1 are W_Q, d..2d-1 W_K (nn.Linear's [out, in])
        for h in range(n_heads):
            q0, k0 = h * hd, d + h * hd
            w[q0 : q0 + hd].zero_()
            w[k0 : k0 + hd].zero_()
            b.c_attn.bias[q0 : q0 + hd].zero_()
            b.c_attn.bias[k0 : k0 + hd].zero_()
            for r in range(hd // 2):
                c, s = math.cos(freq[r]), math.sin(freq[r])
                # key: (sin w j, cos w j) as is
                w[k0 + 2 * r, 2 * r] = strength
                w[k0 + 2 * r + 1, 2 * r + 1] = strength
                # query: (sin w(i-1), cos w(i-1)) = rotation of (sin w i, cos w i) by -w
                w[q0 + 2 * r, 2 * r] = strength * c
                w[q0 + 2 * r, 2 * r + 1] = -strength * s
                w[q0 + 2 * r + 1, 2 * r] = strength * s
                w[q0 + 2 * r + 1, 2 * r + 1] = strength * c


def seeded_rows(model, n_heads):
    """(tensor, row index) pairs of the seeded heads' W_Q and W_K rows and biases in layer 0."""
    b = model.h[0]
    d = b.c_attn.weight.shape[1]
    hd = d // b.n_head
    rows = torch.cat([torch.arange(base + h * hd, base + (h + 1) * hd) for h in range(n_heads) for base in (0, d)])
    return [(b.c_attn.weight, rows), (b.c_attn.bias, rows)]


def hf_state_dict(model):
    """Rename to HF GPT-2 keys; nn.Linear stores [out, in], HF's Conv1D stores [in, out]."""
    wte = model.wte.weight
    if model.vocab is not None:  # back to the full table: the shared row into every unseen row
        wte = wte.detach().float().cpu()  # built on the CPU whatever the device (indices are numpy)
        full = wte[model.vocab.shared].detach().expand(VOCAB, wte.shape[1]).clone()
        full[torch.from_numpy(model.vocab.seen)] = wte[: model.vocab.shared].detach()
        wte = full
    out = {
        "wte.weight": wte,
        "wpe.weight": model.wpe.weight,
        "ln_f.weight": model.ln_f.weight,
        "ln_f.bias": model.ln_f.bias,
    }
    for i, b in enumerate(model.h):
        p = f"h.{i}."
        out[p + "ln_1.weight"] = b.ln_1.weight
        out[p + "ln_1.bias"] = b.ln_1.bias
        out[p + "attn.c_attn.weight"] = b.c_attn.weight.t()
        out[p + "attn.c_attn.bias"] = b.c_attn.bias
        out[p + "attn.c_proj.weight"] = b.c_proj.weight.t()
        out[p + "attn.c_proj.bias"] = b.c_proj.bias
        out[p + "ln_2.weight"] = b.ln_2.weight
        out[p + "ln_2.bias"] = b.ln_2.bias
        out[p + "mlp.c_fc.weight"] = b.c_fc.weight.t()
        out[p + "mlp.c_fc.bias"] = b.c_fc.bias
        out[p + "mlp.c_proj.weight"] = b.mlp_proj.weight.t()
        out[p + "mlp.c_proj.bias"] = b.mlp_proj.bias
    return out


def read_safetensors(path):
    """The writer's counterpart: name → float32 tensor (F16 and F32 only, as this tool writes)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        dt = {"F16": "<f2", "F32": "<f4"}[e["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype=dt).astype(np.float32).reshape(e["shape"]).copy())
    return out


def load_hf_state_dict(model, path):
    """Loads a checkpoint this tool exported, undoing the Conv1D [in, out] transposes."""
    src = read_safetensors(path)
    with torch.no_grad():
        if model.vocab is not None:
            full = src.pop("wte.weight")
            unseen = np.setdiff1d(np.arange(VOCAB), model.vocab.seen)
            dev = model.wte.weight.device
            model.wte.weight[: model.vocab.shared] = full[torch.from_numpy(model.vocab.seen)].to(dev)
            model.wte.weight[model.vocab.shared] = full[torch.from_numpy(unseen)].mean(0).to(dev)
        for name, p in hf_state_dict(model).items():
            if name == "wte.weight" and model.vocab is not None:
                continue
            t = src[name]
            target = p if p.shape == t.shape else None
            if target is None:  # a transposed view of an nn.Linear weight: copy into its base
                p.t().copy_(t.t().to(p.device))
            else:
                p.copy_(t.to(p.device))


def write_safetensors(path, tensors, metadata):
    """Written by hand: the format is a u64 header length, a JSON header, then raw little-endian
    data, and Debian's python3-torch ships no safetensors package."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr = tensors[name].detach().to("cpu", torch.float16).contiguous().numpy()
        raw = arr.astype("<f2").tobytes()
        header[name] = {"dtype": "F16", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)  # keep data 8-byte aligned, as the reference writer does
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def hf_config(a):
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": VOCAB,
        "n_positions": a.n_ctx,
        "n_ctx": a.n_ctx,
        "n_embd": a.d_model,
        "n_layer": a.n_layer,
        "n_head": a.n_head,
        "n_inner": None,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
        "resid_pdrop": a.dropout,
        "embd_pdrop": a.dropout,
        "attn_pdrop": a.dropout,
        "initializer_range": 0.02,
        "bos_token_id": EOT,
        "eos_token_id": EOT,
        "tie_word_embeddings": True,
        "torch_dtype": "float16",
    }


def echo_row(train, n, rng, pairs=(2, 3)):
    """Short segments of two real tokens alternating ("a b a b": `pairs` repetitions, 4 to 6
    tokens by default, a fresh pair per segment). Inside a segment the next token is the one BEFORE the current one, which a head
    attending to the previous position and copying it predicts exactly: the skill behind
    previous-token heads, which natural text rewards too weakly to form in a CPU-sized budget.
    Segments are short so that attending to a few recent tokens at once does not also solve it
    (with long segments a blur over the last few tokens already got most of the way)."""
    row = []
    while len(row) < n:
        a, b = train[int(rng.integers(0, len(train)))], train[int(rng.integers(0, len(train)))]
        while b == a:
            b = train[int(rng.integers(0, len(train)))]
        k = int(rng.integers(pairs[0], pairs[1] + 1))  # repetitions of the pair
        row.extend([a, b] * k)
    return np.asarray(row[:n], dtype=np.int64)


def random_repeat_row(n, rng, n_tokens, block=(10, 64)):
    """Blocks of uniformly random tokens, each written twice in a row ("x y z ... x y z ..."),
    until the row is full. Natural text never says which token follows a random one, so the
    second copy is predictable only by looking back at the first: the induction task itself,
    the same kind of sequence the engine's induction probe (Engine.inductionProbe) measures on.
    Tokens are drawn from the training vocabulary (compact ids below `n_tokens`), block lengths
    uniformly from `block`."""
    row = []
    while len(row) < n:
        k = int(rng.integers(block[0], block[1] + 1))
        b = rng.integers(0, n_tokens, size=k)
        row.extend(b.tolist() * 2)
    return np.asarray(row[:n], dtype=np.int64)


def batches(train, a, rng, extra=None, mix=None, n_tokens=None):
    """Random windows of the training stream. A share of rows (--repeat-frac) is a random span
    of real text written twice in a row: copying from context is what induction heads do, and
    natural text this small repeats too rarely for them to form in a CPU-sized budget. Another
    share (--echo-frac) is echo_row's alternating pairs. Of the plain windows, a share
    (mix["extra"], from --extra-frac) comes from the extra text instead of Brown."""
    T = a.n_ctx
    while True:
        x = np.empty((a.batch, T + 1), dtype=np.int64)
        for r in range(a.batch):
            u = rng.random()
            if u < a.echo_frac:
                x[r] = echo_row(train, T + 1, rng, a.echo_pairs)
            elif u < a.echo_frac + a.random_repeat_frac:
                x[r] = random_repeat_row(T + 1, rng, n_tokens)
            elif u < a.echo_frac + a.random_repeat_frac + a.repeat_frac:
                span = int(rng.integers(16, (T + 1) // 2 + 1))
                s = int(rng.integers(0, len(train) - span))
                chunk = train[s : s + span].astype(np.int64)
                row = np.concatenate([chunk, chunk])
                pad_start = int(rng.integers(0, len(train) - (T + 1)))
                pre = train[pad_start : pad_start + (T + 1 - len(row))].astype(np.int64)
                x[r] = np.concatenate([pre, row])[: T + 1]
            else:
                src = extra if extra is not None and rng.random() < mix["extra"] else train
                s = int(rng.integers(0, len(src) - (T + 1)))
                x[r] = src[s : s + T + 1]
        t = torch.from_numpy(x)
        yield t[:, :-1], t[:, 1:]


@torch.no_grad()
def attention_scores(model, data, n_ctx, windows=4):
    """Per head, on held-out windows: previous-token score (mean attention from i to i-1, the
    evaluation's definition) — printed during training to see whether structure is forming."""
    model.eval()
    scores = None
    for w in range(windows):
        s = w * n_ctx
        x = torch.from_numpy(data[s : s + n_ctx].astype(np.int64))[None].to(model.wpe.weight.device)
        model(x)
        per_layer = []
        for b in model.h:
            p = b.last_pattern[0]  # [H, T, T]
            per_layer.append(torch.diagonal(p, offset=-1, dim1=1, dim2=2).mean(dim=1))
        cur = torch.stack(per_layer)  # [L, H]
        scores = cur if scores is None else scores + cur
    model.train()
    return (scores / windows).float().cpu().numpy()


# The engine's induction probe (src/engine/engine.ts, Engine.inductionProbe), reproduced exactly:
# 8 sequences of <|endoftext|> + a block of n random token ids + the same block again, with
# n = min(50, floor((min(n_ctx, DRAWN_TOKENS = 128) - 1) / 2)), ids 1000 + floor(u * 40000)
# from the same 32-bit LCG (seed 2022, x -> 1664525 x + 1013904223 mod 2^32, u = x / 2^32).
PROBE_SEQUENCES, PROBE_BLOCK, DRAWN_TOKENS = 8, 50, 128


def engine_probe_ids(n_ctx):
    """[PROBE_SEQUENCES, 2n + 1] GPT-2 token ids and n: the engine's probe sequences, id for id."""
    n = min(PROBE_BLOCK, (min(n_ctx, DRAWN_TOKENS) - 1) // 2)
    seed = 2022
    seqs = []
    for _ in range(PROBE_SEQUENCES):
        block = []
        for _ in range(n):
            seed = (seed * 1664525 + 1013904223) % 4294967296
            block.append(1000 + int(seed / 4294967296 * 40000))
        seqs.append([EOT] + block + block)
    return np.asarray(seqs, dtype=np.int64), n


@torch.no_grad()
def head_score_row(model, held, n_ctx, probe, windows=8):
    """Per-head scores, each a list of L*H floats in the app's order (index l*H + h), defined as
    in src/shared/head-scores.ts:
      previous_token: mean weight from query i to key i-1 over i >= 1 (previousTokenScore),
      first_token:    mean weight from query i to key 0 over i >= 1 (firstTokenScore),
      both averaged over `windows` held-out windows of n_ctx tokens (the app computes them on
      the user's text; tools/eval/evaluate.ts on held-out windows, as here);
      induction: inductionScore(pattern, T, n, offset 1) averaged over the engine's probe
      sequences (`probe`, from engine_probe_ids and mapped through the training vocabulary).
    Patterns are computed in float32 without autocast, in eval mode (no dropout)."""
    model.eval()
    dev = model.wpe.weight.device
    x = torch.from_numpy(np.stack([held[w * n_ctx : (w + 1) * n_ctx] for w in range(windows)]).astype(np.int64))
    model(x.to(dev))
    prev, first = [], []
    for b in model.h:
        p = b.last_pattern  # [B, H, T, T]
        prev.append(torch.diagonal(p, offset=-1, dim1=2, dim2=3).mean(dim=(0, 2)))
        first.append(p[:, :, 1:, 0].mean(dim=(0, 2)))
    ids, n = probe
    model(torch.from_numpy(ids).to(dev))
    ind = []
    j = torch.arange(n - 1, device=dev)
    for b in model.h:
        p = b.last_pattern  # [S, H, 2n+1, 2n+1]
        ind.append(p[:, :, 1 + n + j, 2 + j].mean(dim=(0, 2)))
    model.train()

    def flat(rows):
        return [round(float(v), 4) for v in torch.stack(rows).reshape(-1).float().cpu()]

    return {"previous_token": flat(prev), "first_token": flat(first), "induction": flat(ind)}


def log_spaced(step):
    """Checkpoint steps: 1, 2, 4, 8, ... (the last step is saved too)."""
    return step > 0 and step & (step - 1) == 0


@torch.no_grad()
def evaluate(model, data, n_ctx, max_windows=64):
    model.eval()
    losses = []
    step = n_ctx
    for i, s in enumerate(range(0, len(data) - n_ctx - 1, step)):
        if i >= max_windows:
            break
        dev = model.wpe.weight.device
        x = torch.from_numpy(data[s : s + n_ctx].astype(np.int64))[None].to(dev)
        y = torch.from_numpy(data[s + 1 : s + n_ctx + 1].astype(np.int64))[None].to(dev)
        logits, _ = model(x)
        per_token = F.cross_entropy(logits.float()[0], y[0], reduction="none")
        if model.vocab is not None:  # one particular unseen token is 1/U of the shared row's mass
            per_token = per_token + (y[0] == model.vocab.shared).float() * math.log(max(1, model.vocab.n_unseen))
        losses.append(per_token.mean().item())
    model.train()
    return float(np.mean(losses))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder with train.u16 and heldout.u16 from prepare-data.ts")
    ap.add_argument("--out", required=True, help="folder to write model.safetensors, config.json, training-log.json")
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-ctx", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--repeat-frac", type=float, default=0.15)
    ap.add_argument("--extra-frac", type=float, default=0.0,
                    help="share of plain windows taken from extra.u16 (prepare-data.ts's extra texts)")
    ap.add_argument("--extra-until", type=float, default=None, metavar="MIN",
                    help="after MIN minutes plain windows are Brown only (an in-domain finish; the extra "
                         "text still sets the vocabulary, so a run that --resume's a mixed one keeps its rows)")
    ap.add_argument("--echo-frac", type=float, default=0.0, help="share of echo_row rows")
    ap.add_argument("--random-repeat-frac", type=float, default=0.0,
                    help="share of random_repeat_row rows (random tokens, each block written twice)")
    ap.add_argument("--echo-pairs", type=int, nargs=2, default=[2, 3], metavar=("MIN", "MAX"),
                    help="repetitions of each pair in an echo segment (phase 2 used 3 12)")
    ap.add_argument("--minutes", type=float, default=100, help="wall-time budget; the LR schedule is fitted to it")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: time budget only)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                    help="auto: CUDA when torch sees a GPU, else the CPU. cuda: a GPU or a clear error. "
                         "On CUDA the matmuls run under bf16 autocast (as --bf16 does on the CPU)")
    ap.add_argument("--lr-hold-frac", type=float, default=0.0,
                    help="keep the learning rate at --lr (after warm-up) for up to this share of the budget, "
                         "then cosine to --min-lr over the rest; 0: plain warm-up + cosine")
    ap.add_argument("--lr-hold-until-induction", type=float, default=None, metavar="SCORE",
                    help="end the hold early once any head's induction score (engine probe) reaches SCORE")
    ap.add_argument("--score-every", type=int, default=0,
                    help="record per-head scores every this many steps (0: at each --eval-every); they are "
                         "also recorded at every checkpoint step")
    ap.add_argument("--score-windows", type=int, default=8, help="held-out windows for the per-head scores")
    ap.add_argument("--checkpoints", default=None,
                    help="folder for log-spaced checkpoints (default OUT/checkpoints); 'none' for none")
    ap.add_argument("--bf16", action="store_true",
                    help="bfloat16 autocast for the matmuls (1.8x faster on CPUs with avx512_bf16); "
                         "weights, optimizer state and the loss stay float32")
    ap.add_argument("--pos-init", choices=["normal", "sinusoid"], default="normal",
                    help="initial wpe: GPT-2's N(0, 0.02) or sinusoids (see sinusoid_positions)")
    ap.add_argument("--wpe-decay", type=float, default=0.1, help="weight decay on the position table")
    ap.add_argument("--pos-scale", type=float, default=0.1, help="amplitude of the sinusoid wpe start")
    ap.add_argument("--attn-dropout", type=float, default=None,
                    help="dropout on attention weights (default: --dropout); 0 lets sharp heads form sooner")
    ap.add_argument("--attn-decay", type=float, default=0.1,
                    help="weight decay on c_attn (W_Q, W_K, W_V); decay pulls the small early "
                         "query/key weights back to zero while attention is still forming")
    ap.add_argument("--qkv-lr-mult", type=float, default=1.0,
                    help="learning-rate multiplier for c_attn (W_Q, W_K, W_V and biases): Adam moves "
                         "each weight about lr per step, and sharp heads need W_Q/W_K several times "
                         "their initial size")
    ap.add_argument("--seed-prev-heads", type=int, default=0,
                    help="start this many layer-0 heads as previous-token heads (needs --pos-init sinusoid; "
                         "see seed_previous_token_heads)")
    ap.add_argument("--seed-prev-strength", type=float, default=2.0,
                    help="scale of the seeded W_Q/W_K entries; the logit gap to the neighbours grows with its square")
    ap.add_argument("--wpe-lr-mult", type=float, default=1.0,
                    help="learning-rate multiplier for the position table: Adam moves each entry about lr per "
                         "step, which scrambles a 0.2-amplitude sinusoid start within ~100 steps")
    ap.add_argument("--wte-std", type=float, default=None,
                    help="std of the token embedding's random start (GPT-2: 0.02). With --seed-prev-pos-scale "
                         "1.0 the position is ~15x the tokens' norm at 0.02 and every layer first has to "
                         "amplify the token (measured: held-out loss ~250 steps behind); 0.1 keeps it ~3x")
    ap.add_argument("--seed-prev-pos-scale", type=float, default=1.0,
                    help="amplitude of the wpe sinusoid pairs the seeded heads read")
    ap.add_argument("--seeded-lr-mult", type=float, default=1.0,
                    help="learning-rate multiplier for the W_Q/W_K rows (weights and biases) of the seeded heads; "
                         "their W_V and every other head learn at the normal rate")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--shared-vocab", action="store_true",
                    help="unembed onto the tokens the training text contains plus one shared row while "
                         "training: the exact loss of the exported model, about 1.4x faster (see Vocab)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--resume", help="start from a model.safetensors this tool wrote (continue training); the "
                                     "training-log.json beside it is continued, so the log covers every phase")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"train.py: --device cuda, but this torch ({torch.__version__}) sees no CUDA GPU "
                         "(torch.cuda.is_available() is False). Use --device cpu or auto.")
    if a.device == "auto" and not torch.cuda.is_available():
        print("no CUDA GPU visible: training on the CPU", flush=True)
    dev = torch.device("cuda" if a.device != "cpu" and torch.cuda.is_available() else "cpu")
    use_bf16 = a.bf16 or dev.type == "cuda"
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        print(f"device: {torch.cuda.get_device_name(dev)} (torch {torch.__version__}), bf16 autocast", flush=True)
    rng = np.random.default_rng(a.seed)
    train = np.fromfile(os.path.join(a.data, "train.u16"), dtype="<u2")
    held = np.fromfile(os.path.join(a.data, "heldout.u16"), dtype="<u2")
    extra = np.fromfile(os.path.join(a.data, "extra.u16"), dtype="<u2") if a.extra_frac > 0 else None
    os.makedirs(a.out, exist_ok=True)

    vocab = Vocab(train if extra is None else np.concatenate([train, extra])) if a.shared_vocab else None
    if vocab:
        print(f"training vocabulary: {len(vocab.seen):,} tokens seen, {vocab.n_unseen:,} share one row", flush=True)
        train, held = vocab.compact(train), vocab.compact(held)
        extra = None if extra is None else vocab.compact(extra)
    model = GPT2(a.n_layer, a.n_head, a.d_model, a.n_ctx, a.dropout, a.pos_init, a.pos_scale, a.attn_dropout, vocab,
                 a.wte_std)
    if a.seed_prev_heads:
        if a.pos_init != "sinusoid":
            ap.error("--seed-prev-heads needs --pos-init sinusoid")
        seed_previous_token_heads(model, a.seed_prev_heads, a.seed_prev_strength, a.seed_prev_pos_scale)
    if a.resume:
        load_hf_state_dict(model, a.resume)
        print(f"resumed from {a.resume}", flush=True)
    model.to(dev)
    named = list(model.named_parameters())
    decay = [p for n, p in named if p.dim() >= 2 and "c_attn" not in n and n != "wpe.weight"]
    attn = [p for n, p in named if "c_attn" in n and p.dim() >= 2]
    attn_bias = [p for n, p in named if "c_attn" in n and p.dim() < 2]
    no_decay = [p for n, p in named if p.dim() < 2 and "c_attn" not in n]
    groups = [{"params": decay, "weight_decay": 0.1},
              {"params": [model.wpe.weight], "weight_decay": a.wpe_decay, "lr_mult": a.wpe_lr_mult},
              {"params": attn, "weight_decay": a.attn_decay, "lr_mult": a.qkv_lr_mult},
              {"params": attn_bias, "weight_decay": 0.0, "lr_mult": a.qkv_lr_mult},
              {"params": no_decay, "weight_decay": 0.0}]
    try:  # torch 2.x on CUDA: one fused kernel for the whole update (same arithmetic)
        opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), fused=dev.type == "cuda")
    except (TypeError, RuntimeError):  # torch 1.13: no fused AdamW
        opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95))
    # As exported: the full 50257-row table.
    n_params = sum(p.numel() for p in model.parameters()) + (VOCAB - model.wte.weight.shape[0]) * a.d_model
    n_extra = 0 if extra is None else len(extra)
    print(f"params {n_params:,}  train tokens {len(train):,} + extra {n_extra:,}  held-out tokens {len(held):,}",
          flush=True)

    budget = a.minutes * 60
    t0 = time.time()
    log = {"steps": [], "train_loss": [], "heldout_loss": [], "eval_steps": [], "tokens": []}
    # Counting on from an earlier phase (--resume), so curves, steps, tokens and wall time are totals.
    prior = None
    prior_log = os.path.join(os.path.dirname(a.resume), "training-log.json") if a.resume else None
    if prior_log and os.path.exists(prior_log):
        with open(prior_log) as f:
            prior = json.load(f)
        log = {k: list(prior.get(k, [])) for k in ("steps", "train_loss", "heldout_loss", "eval_steps", "tokens",
                                                    "best_prev_token")}
    step0 = prior["final_steps"] if prior else 0
    tokens0 = prior["tokens_seen"] if prior else 0
    step = 0
    ema = None
    mix = {"extra": a.extra_frac}  # the share batches() reads, set to 0 after --extra-until
    it = batches(train, a, rng, extra, mix, vocab.shared if vocab else VOCAB)
    # The seeded heads' W_Q/W_K rows, which learn at --seeded-lr-mult (None: the normal rate).
    slow = seeded_rows(model, a.seed_prev_heads) if a.seed_prev_heads and a.seeded_lr_mult != 1.0 else None
    if slow:
        slow = [(p, rows.to(dev)) for p, rows in slow]
    probe_ids, probe_n = engine_probe_ids(a.n_ctx)
    probe = (vocab.compact(probe_ids) if vocab else probe_ids, probe_n)
    score_every = a.score_every or a.eval_every
    ckpt_dir = None if a.checkpoints == "none" else (a.checkpoints or os.path.join(a.out, "checkpoints"))
    L, H = a.n_layer, a.n_head
    hs = (prior or {}).get("head_scores") or {"layers": L, "heads": H, "steps": [], "tokens": [],
                                               "previous_token": [], "first_token": [], "induction": []}
    hs["definitions"] = ("per head, index layer*heads + head, as src/shared/head-scores.ts: previous_token and "
                         "first_token on held-out windows, induction on the engine's probe (train.py head_score_row)")
    log["head_scores"] = hs
    hold_end = None  # the step the constant learning rate ended (--lr-hold-frac)
    hold = a.lr_hold_frac > 0

    def record_scores(at):
        row = head_score_row(model, held, a.n_ctx, probe, a.score_windows)
        hs["steps"].append(step0 + at)
        hs["tokens"].append(tokens0 + at * a.batch * a.n_ctx)
        for k, v in row.items():
            hs[k].append(v)
        return row

    def write_log(extra=None):
        out = dict(log, **(extra or {}))
        with open(os.path.join(a.out, "training-log.json.tmp"), "w") as f:
            json.dump(out, f)
        os.replace(os.path.join(a.out, "training-log.json.tmp"), os.path.join(a.out, "training-log.json"))

    def save_checkpoint(at):
        d = os.path.join(ckpt_dir, f"step-{step0 + at:08d}")
        os.makedirs(d, exist_ok=True)
        write_safetensors(os.path.join(d, "model.safetensors"), hf_state_dict(model), {"format": "pt"})
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(hf_config(a), f, indent=2)
            f.write("\n")

    est_total = None
    while True:
        elapsed = time.time() - t0
        if elapsed > budget or (a.max_steps and step >= a.max_steps):
            break
        # Cosine schedule over the expected number of steps, re-estimated from the measured pace.
        if step >= 20:
            est_total = max(step + 1, int(step * budget / elapsed))
            if a.max_steps:
                est_total = min(est_total, a.max_steps)
        if hold and step >= a.warmup and elapsed >= a.lr_hold_frac * budget:
            hold, hold_end = False, step
            print(f"step {step0 + step}: learning-rate hold ends (time)", flush=True)
        start = a.warmup if hold_end is None else hold_end
        if step < a.warmup:
            lr = a.lr * (step + 1) / a.warmup
        elif hold:
            lr = a.lr
        elif est_total:
            frac = min(1.0, (step - start) / max(1, est_total - start))
            lr = a.min_lr + 0.5 * (a.lr - a.min_lr) * (1 + math.cos(math.pi * frac))
        else:
            lr = a.lr
        for g in opt.param_groups:
            g["lr"] = lr * g.get("lr_mult", 1.0)
        if a.extra_until is not None and elapsed >= a.extra_until * 60:
            mix["extra"] = 0.0
        x, y = next(it)
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
            _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        before = [p[rows].clone() for p, rows in slow] if slow else None
        opt.step()
        if slow:  # a per-row learning rate, which AdamW's per-tensor groups cannot express
            with torch.no_grad():
                for (p, rows), old in zip(slow, before):
                    p[rows] = old + a.seeded_lr_mult * (p[rows] - old)
        step += 1
        # Kept on the device: a .item() per step would make the CPU wait for the GPU every step.
        ema = loss.detach().float() if ema is None else 0.98 * ema + 0.02 * loss.detach().float()
        if step % 25 == 0:
            log["steps"].append(step0 + step)
            log["train_loss"].append(float(ema))
            log["tokens"].append(tokens0 + step * a.batch * a.n_ctx)
        if ckpt_dir and log_spaced(step):
            save_checkpoint(step)
        if step % score_every == 0 or (ckpt_dir and log_spaced(step)):
            row = record_scores(step)
            if hold and a.lr_hold_until_induction is not None and max(row["induction"]) >= a.lr_hold_until_induction:
                hold, hold_end = False, step
                print(f"step {step0 + step}: induction {max(row['induction']):.3f}: learning-rate hold ends",
                      flush=True)
        if step % a.eval_every == 0:
            hl = evaluate(model, held, a.n_ctx, 16)
            prev = attention_scores(model, held, a.n_ctx)
            best = np.unravel_index(int(np.argmax(prev)), prev.shape)
            log["eval_steps"].append(step0 + step)
            log["heldout_loss"].append(hl)
            log.setdefault("best_prev_token", []).append(float(prev.max()))
            print(f"step {step0 + step} lr {lr:.2e} train {float(ema):.3f} held-out {hl:.3f} "
                  f"prev-token best L{best[0]}H{best[1]} {prev.max():.3f} "
                  f"{time.time() - t0:.0f}s tok/s {step * a.batch * a.n_ctx / (time.time() - t0):.0f}", flush=True)
            if hs["steps"] and hs["steps"][-1] == step0 + step:
                print("  scores: best " + ", ".join(
                    f"{k} L{int(np.argmax(hs[k][-1])) // H}H{int(np.argmax(hs[k][-1])) % H} {max(hs[k][-1]):.3f}"
                    for k in ("previous_token", "first_token", "induction")), flush=True)
            write_log({"complete": False, "final_steps": step0 + step, "args": vars(a) if not prior else prior["args"]})
        if step % 1000 == 0:
            write_safetensors(os.path.join(a.out, "model.safetensors"), hf_state_dict(model), {"format": "pt"})

    wall = time.time() - t0
    final_held = evaluate(model, held, a.n_ctx, 64)
    if step > 0 and (not hs["steps"] or hs["steps"][-1] != step0 + step):
        record_scores(step)
    if ckpt_dir and step > 0 and not log_spaced(step):
        save_checkpoint(step)
    write_safetensors(os.path.join(a.out, "model.safetensors"), hf_state_dict(model), {"format": "pt"})
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(hf_config(a), f, indent=2)
        f.write("\n")
    log.update({
        "params": n_params,
        "final_steps": step0 + step,
        "tokens_seen": tokens0 + step * a.batch * a.n_ctx,
        "wall_seconds": (prior["wall_seconds"] if prior else 0) + wall,
        "final_heldout_loss_torch": final_held,
        "args": vars(a) if not prior else prior["args"],  # the first phase's: it set the model's shape
        "torch_version": torch.__version__,
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "lr_hold_end_step": None if hold_end is None else step0 + hold_end,
        "complete": True,
    })
    if prior:
        first = {"args": prior["args"], "steps": prior["final_steps"], "tokens": prior["tokens_seen"],
                 "wall_seconds": prior["wall_seconds"]}
        log["phases"] = prior.get("phases", [first]) + [
            {"args": vars(a), "steps": step, "tokens": step * a.batch * a.n_ctx, "wall_seconds": wall}]
    write_log()
    print(f"done: {step} steps, {wall / 60:.1f} min, held-out loss {final_held:.3f}", flush=True)


if __name__ == "__main__":
    main()
