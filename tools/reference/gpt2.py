#!/usr/bin/python3
"""Reference GPT-2 in PyTorch, for moxing's parity test (the llm.c method).

    /usr/bin/python3 tools/reference/gpt2.py        # from the repository root

Builds a small random GPT-2 with Hugging Face's layout and parameter names
(Conv1D weights stored (in, out), LM head tied to wte), runs one batch and
writes:

  testdata/gpt2_tiny.safetensors       the weights, as Hugging Face names them
  testdata/gpt2_tiny_golden.safetensors the batch (as float32 ids), logits,
                                        loss, every parameter's gradient
                                        ("grad.<name>") and the losses of 10
                                        AdamW steps (weight decay on matrices
                                        only, as nanoGPT)
  testdata/gpt2_tiny_classify_golden.safetensors
                                        a classification head on the same
                                        weights: padded batch, logits,
                                        weighted loss, gradients
  testdata/gpt2_tiny_lora_golden.safetensors
                                        LoRA adapters on the same weights:
                                        logits, loss, adapter gradients
  testdata/gpt2_tiny_lora_wte_golden.safetensors
                                        the same with an adapter on the
                                        token embedding too

Debian has no safetensors package, so the files are written with numpy
(write_safetensors below). Needs python3-torch.
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

CONFIG = dict(vocab_size=53, n_positions=16, n_embd=32, n_layer=2, n_head=4)
B, T = 2, 11
STEPS = 10
ADAMW = dict(lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)


def gelu(x):
    # GPT-2's tanh approximation, PyTorch's fused kernel.
    return F.gelu(x, approximate="tanh")


class Conv1D(nn.Module):
    """Hugging Face's Conv1D: y = x @ W + b with W stored (in, out)."""

    def __init__(self, nin, nout):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(nin, nout) * 0.02)
        self.bias = nn.Parameter(torch.randn(nout) * 0.02)

    def forward(self, x):
        y = x @ self.weight + self.bias
        if getattr(self, "lora_A", None) is not None:  # PEFT's LoRA, dropout 0
            y = y + (x @ self.lora_A.t()) @ self.lora_B.t() * self.lora_scale
        return y


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_attn = Conv1D(c["n_embd"], 3 * c["n_embd"])
        self.c_proj = Conv1D(c["n_embd"], c["n_embd"])
        self.n_head = c["n_head"]

    def forward(self, x):
        b, t, ch = x.shape
        q, k, v = self.c_attn(x).split(ch, dim=2)
        h, d = self.n_head, ch // self.n_head
        q, k, v = (z.view(b, t, h, d).transpose(1, 2) for z in (q, k, v))  # (B, H, T, D)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, ch)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = Conv1D(c["n_embd"], 4 * c["n_embd"])
        self.c_proj = Conv1D(4 * c["n_embd"], c["n_embd"])

    def forward(self, x):
        return self.c_proj(gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c["n_embd"])
        self.attn = Attention(c)
        self.ln_2 = nn.LayerNorm(c["n_embd"])
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.wpe = nn.Embedding(c["n_positions"], c["n_embd"])
        self.h = nn.ModuleList([Block(c) for _ in range(c["n_layer"])])
        self.ln_f = nn.LayerNorm(c["n_embd"])
        with torch.no_grad():  # random, not trivial, layer-norm parameters
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.weight.add_(torch.randn_like(m.weight) * 0.1)
                    m.bias.add_(torch.randn_like(m.bias) * 0.1)

    def embedding(self):
        w = self.wte.weight
        if getattr(self, "wte_lora_A", None) is not None:  # PEFT's LoRA on the embedding, tied to the head
            w = w + (self.wte_lora_B @ self.wte_lora_A).t() * self.wte_lora_scale
        return w

    def forward(self, idx, targets):
        b, t = idx.shape
        w = self.embedding()
        x = F.embedding(idx, w) + self.wpe(torch.arange(t))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ w.t()  # tied LM head
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


def write_safetensors(path, tensors, metadata=None):
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name].detach().numpy().astype("<f4"))
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for blob in blobs:
            f.write(blob)
    print("wrote", os.path.relpath(path, ROOT))


def main():
    torch.manual_seed(42)
    torch.set_num_threads(1)
    model = GPT2(CONFIG)
    idx = torch.randint(0, CONFIG["vocab_size"], (B, T))
    targets = torch.randint(0, CONFIG["vocab_size"], (B, T))
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    write_safetensors(os.path.join(ROOT, "testdata", "gpt2_tiny.safetensors"), weights,
                      {"config": json.dumps(CONFIG)})

    logits, loss = model(idx, targets)
    loss.backward()
    golden = {"idx": idx.float(), "targets": targets.float(), "logits": logits, "loss": loss.reshape(1)}
    for n, p in model.named_parameters():
        golden["grad." + n] = p.grad.detach().clone()  # the optimizer below reuses p.grad

    # 10 AdamW steps from the same start (the first loss is the one above).
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": ADAMW["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=ADAMW["lr"], betas=ADAMW["betas"], eps=ADAMW["eps"])
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        _, l = model(idx, targets)
        l.backward()
        opt.step()
        losses.append(l.item())
    golden["step_losses"] = torch.tensor(losses)
    meta = {"config": json.dumps(CONFIG), "adamw": json.dumps(ADAMW), "batch": json.dumps([B, T])}
    write_safetensors(os.path.join(ROOT, "testdata", "gpt2_tiny_golden.safetensors"), golden, meta)
    classify_golden(weights)
    lora_golden(weights, idx, targets)
    lora_golden(weights, idx, targets, LORA_WTE, "gpt2_tiny_lora_wte_golden.safetensors")


# Sequence classification (GPT2ForSequenceClassification): score (K, C)
# without bias on the last real token of right-padded sequences, weighted
# cross-entropy.
CLS_K, CLS_LENGTHS, CLS_WEIGHTS = 3, [11, 5, 8], [1.0, 2.0, 0.5]


def classify_golden(weights):
    """testdata/gpt2_tiny_classify_golden.safetensors: from the same
    backbone weights, a random score head, a padded batch (ids as float32,
    pad 0), labels, logits, the weighted loss and every gradient."""
    torch.manual_seed(7)
    model = GPT2(CONFIG)
    model.load_state_dict(weights)
    score = nn.Parameter(torch.randn(CLS_K, CONFIG["n_embd"]) * 0.02)
    b, t = len(CLS_LENGTHS), max(CLS_LENGTHS)
    idx = torch.zeros(b, t, dtype=torch.long)
    for i, n in enumerate(CLS_LENGTHS):
        idx[i, :n] = torch.randint(1, CONFIG["vocab_size"], (n,))
    labels = torch.tensor([2, 0, 1])
    x = model.wte(idx) + model.wpe(torch.arange(t))
    for blk in model.h:
        x = blk(x)
    h = model.ln_f(x)
    last = h[torch.arange(b), torch.tensor(CLS_LENGTHS) - 1]  # (B, C)
    logits = last @ score.t()
    loss = F.cross_entropy(logits, labels, weight=torch.tensor(CLS_WEIGHTS))
    loss.backward()
    golden = {"idx": idx.float(), "labels": labels.float(), "logits": logits, "loss": loss.reshape(1),
              "score.weight": score.detach().clone(), "grad.score.weight": score.grad}
    for n, p in model.named_parameters():
        golden["grad.transformer." + n] = p.grad
    meta = {"lengths": json.dumps(CLS_LENGTHS), "class_weights": json.dumps(CLS_WEIGHTS)}
    write_safetensors(os.path.join(ROOT, "testdata", "gpt2_tiny_classify_golden.safetensors"), golden, meta)


# LoRA (as PEFT, dropout 0) on attn.c_attn and mlp.c_fc; then on the token
# embedding and attn.c_attn.
LORA = dict(r=4, lora_alpha=8.0, target_modules=["attn.c_attn", "mlp.c_fc"])
LORA_WTE = dict(r=3, lora_alpha=6.0, target_modules=["wte", "attn.c_attn"])


def lora_golden(weights, idx, targets, cfg=LORA, name="gpt2_tiny_lora_golden.safetensors"):
    """testdata/<name>: adapters with random A and B (B is non-zero so that
    every gradient is), the LM logits and loss of the golden batch, and the
    gradients of A and B (the base is frozen)."""
    torch.manual_seed(11)
    model = GPT2(CONFIG)
    model.load_state_dict(weights)
    for p in model.parameters():
        p.requires_grad_(False)
    golden = {}
    r, scale = cfg["r"], cfg["lora_alpha"] / cfg["r"]
    for i, blk in enumerate(model.h):
        for target, layer in (("attn.c_attn", blk.attn.c_attn), ("mlp.c_fc", blk.mlp.c_fc)):
            if target not in cfg["target_modules"]:
                continue
            nin, nout = layer.weight.shape
            layer.lora_A = nn.Parameter(torch.randn(r, nin) * 0.2)
            layer.lora_B = nn.Parameter(torch.randn(nout, r) * 0.2)
            layer.lora_scale = scale
            for ab in ("A", "B"):
                golden[f"h.{i}.{target}.lora_{ab}.weight"] = getattr(layer, "lora_" + ab)
    if "wte" in cfg["target_modules"]:
        v, c = model.wte.weight.shape
        model.wte_lora_A = nn.Parameter(torch.randn(r, v) * 0.2)
        model.wte_lora_B = nn.Parameter(torch.randn(c, r) * 0.2)
        model.wte_lora_scale = scale
        golden["wte.lora_embedding_A"], golden["wte.lora_embedding_B"] = model.wte_lora_A, model.wte_lora_B
    logits, loss = model(idx, targets)
    loss.backward()
    for n in list(golden):
        golden["grad." + n] = golden[n].grad
        golden[n] = golden[n].detach()
    golden["logits"], golden["loss"] = logits, loss.reshape(1)
    write_safetensors(os.path.join(ROOT, "testdata", name), golden, {"lora": json.dumps(cfg)})


if __name__ == "__main__":
    main()
