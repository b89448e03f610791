#!/usr/bin/python3
"""Character-level LSTM language model on Moby-Dick: moxing against PyTorch's
nn.LSTM with the same configuration, data, schedule and steps.

    scripts/fetch-data.sh                    # once: installs the data
    /usr/bin/python3 bench/lstm_lm.py        # from the repository root
    /usr/bin/python3 bench/lstm_lm.py --steps 300 --threads 2

Both sides:
- the token files of `moxing prepare --tokenizer char` (the last 10% of the
  book is the validation text);
- encoder (embedding) -> LSTM (batch_first) -> decoder (linear), PyTorch's
  default initialisation, no dropout;
- AdamW (betas 0.9/0.95, weight decay 0.1 on matrices), linear warmup for
  steps/20 then cosine decay to lr/10, gradient-norm clip 1, random windows
  of --seq tokens, batches of --batch;
- the validation loss every steps/10 steps on 8 random batches, keeping the
  best weights (moxing pretrain's loop);
- finally the cross-entropy of the whole validation text, in consecutive
  windows of --seq tokens each starting from zero states (moxing eval --text).

Prints a Markdown table: final validation loss, ratio, time per step.
"""
import argparse
import json
import math
import os
import re
import struct
import subprocess
import tempfile
import time

import blaspeer  # (before numpy and torch: OpenBLAS's kernels)
import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.environ.get("MOXING_DATA", os.path.expanduser("~/.cache/moxing/data"))
MOBY = os.path.join(DATA, "npm", "node_modules", "@stdlib", "datasets-moby-dick", "data", "data.txt")


def read_tokens(path):
    with open(path, "rb") as f:
        magic, version, width, count = struct.unpack("<4sIIQ", f.read(20))
        assert magic == b"MXTK" and version == 1, path
        dtype = {2: np.uint16, 4: np.uint32}[width]
        return np.frombuffer(f.read(count * width), dtype=dtype).astype(np.int64)


class LM(nn.Module):
    def __init__(self, vocab, embed, hidden, layers):
        super().__init__()
        self.encoder = nn.Embedding(vocab, embed)
        self.rnn = nn.LSTM(embed, hidden, layers, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, x):
        return self.decoder(self.rnn(self.encoder(x))[0])


def windows(tokens, b, t, rng):
    starts = rng.integers(0, len(tokens) - t, size=b)
    x = np.stack([tokens[s:s + t] for s in starts])
    y = np.stack([tokens[s + 1:s + t + 1] for s in starts])
    return torch.from_numpy(x), torch.from_numpy(y)


def torch_run(a, train, val, vocab):
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    m = LM(vocab, a.embed, a.hidden, a.layers)
    decay = [p for p in m.parameters() if p.dim() >= 2]
    rest = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    warm, min_lr = max(1, a.steps // 20), a.lr / 10

    def lr_at(step):
        if step < warm:
            return a.lr * (step + 1) / warm
        r = (step - warm) / max(1, a.steps - warm)
        return min_lr + 0.5 * (1 + math.cos(math.pi * min(r, 1))) * (a.lr - min_lr)

    rng, erng = np.random.default_rng(a.seed), np.random.default_rng(a.seed + 1)
    every = max(1, a.steps // 10)
    best, best_state = float("inf"), None
    start = time.time()
    for step in range(a.steps):
        m.train()
        x, y = windows(train, a.batch, a.seq, rng)
        loss = nn.functional.cross_entropy(m(x).reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.step()
        if (step + 1) % every == 0 or step + 1 == a.steps:
            m.eval()
            with torch.no_grad():
                vl = np.mean([nn.functional.cross_entropy(m(x).reshape(-1, vocab), y.reshape(-1)).item()
                              for x, y in (windows(val, a.batch, a.seq, erng) for _ in range(8))])
            if vl < best:
                best, best_state = vl, {k: v.clone() for k, v in m.state_dict().items()}
    seconds = time.time() - start
    m.load_state_dict(best_state)
    m.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(val) - 1, a.seq):
            e = min(s + a.seq + 1, len(val))
            x, y = torch.from_numpy(val[s:e - 1])[None], torch.from_numpy(val[s + 1:e])
            total += nn.functional.cross_entropy(m(x)[0], y, reduction="sum").item()
            n += len(y)
    return total / n, seconds / a.steps


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    work = tempfile.mkdtemp(prefix="moxing-lstm-")
    exe = os.path.join(work, "moxing")
    subprocess.run(["go", "build", "-o", exe, "./cmd/moxing"], cwd=ROOT, check=True)
    prep = os.path.join(work, "moby")
    subprocess.run([exe, "prepare", "--input", MOBY, "--tokenizer", "char", "--out", prep], check=True, capture_output=True)
    train, val = read_tokens(os.path.join(prep, "train.tok")), read_tokens(os.path.join(prep, "val.tok"))
    with open(os.path.join(prep, "tokenizer.json")) as f:
        chars = json.load(f)["chars"]
    valtxt = os.path.join(work, "val.txt")
    with open(valtxt, "w") as f:
        f.write("".join(chars[i] for i in val))

    run = os.path.join(work, "run")
    env = dict(os.environ, GOMAXPROCS=str(a.threads))
    start = time.time()
    subprocess.run([exe, "pretrain", "--arch", "lstm", "--data", prep, "--layers", str(a.layers), "--embd", str(a.embed),
                    "--hidden", str(a.hidden), "--seq", str(a.seq), "--batch-size", str(a.batch), "--steps", str(a.steps),
                    "--lr", str(a.lr), "--seed", str(a.seed), "--run", run], check=True, env=env, capture_output=True)
    mx_step = (time.time() - start) / a.steps
    out = subprocess.run([exe, "eval", "--model", os.path.join(run, "best.safetensors"), "--text", valtxt],
                         check=True, env=env, capture_output=True, text=True).stdout
    mx_loss = float(re.search(r"cross-entropy ([0-9.]+)", out).group(1))

    pt_loss, pt_step = torch_run(a, train, val, len(chars))
    print(f"LSTM LM, Moby-Dick characters: {a.layers} layers, embedding {a.embed}, hidden {a.hidden}, "
          f"{a.steps} steps of {a.batch}×{a.seq}, lr {a.lr}, {a.threads} thread(s); PyTorch's BLAS: {blaspeer.describe()}\n")
    print("| | moxing | PyTorch 1.13 nn.LSTM | ratio |")
    print("|---|---|---|---|")
    print(f"| validation loss (nats/char, whole validation text) | {mx_loss:.4f} | {pt_loss:.4f} | {mx_loss / pt_loss:.3f} |")
    print(f"| seconds per step (moxing: whole run incl. evaluations) | {mx_step:.3f} | {pt_step:.3f} | {mx_step / pt_step:.2f} |")


if __name__ == "__main__":
    main()
