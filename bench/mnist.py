#!/usr/bin/python3
"""MNIST ConvNet: time per epoch, moxing against PyTorch 1.13 with the same
architecture, batch size, optimizer and thread count, and the test accuracy
each reaches.

    scripts/fetch-data.sh                    # once: installs MNIST
    /usr/bin/python3 bench/mnist.py          # from the repository root
    /usr/bin/python3 bench/mnist.py --epochs 1 --threads 2

Both sides train moxing's default ConvNet (`moxing train --model cnn`):
conv 3×3 32 → ReLU → max pool 2 → conv 3×3 64 → ReLU → max pool 2 →
dropout 0.25 → linear 128 → ReLU → dropout 0.25 → linear 10, on the first
55,000 training digits standardised with the training mean and deviation,
Adam (lr 1e-3), batches of 64, shuffled; an epoch is the pass over the
training images plus the loss and accuracy of 5,000 validation images.
moxing's epoch time is the one its metrics.jsonl records; PyTorch's is
measured the same way, each side in its own process. After the epochs each
reports its accuracy on the 10,000 test digits.
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import tempfile
import time

import blaspeer  # (before numpy and torch: OpenBLAS's kernels)
import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.environ.get("MOXING_DATA", os.path.expanduser("~/.cache/moxing/data"))
MNIST = os.path.join(DATA, "mnist")


def idx(name):
    with gzip.open(os.path.join(MNIST, name + ".gz")) as f:
        raw = f.read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def torch_run(a):
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    x = idx("train-images-idx3-ubyte").astype(np.float32) / 255
    y = idx("train-labels-idx1-ubyte").astype(np.int64)
    xt = idx("t10k-images-idx3-ubyte").astype(np.float32) / 255
    yt = idx("t10k-labels-idx1-ubyte").astype(np.int64)
    rng = np.random.default_rng(a.seed)
    perm = rng.permutation(len(x))
    tr, va = perm[:55000], perm[55000:]
    mean, std = x[tr].mean(), x[tr].std()
    t = lambda v: torch.from_numpy(((v - mean) / std)[:, None])
    xtr, ytr, xva, yva, xte, yte = t(x[tr]), torch.from_numpy(y[tr]), t(x[va]), torch.from_numpy(y[va]), t(xt), torch.from_numpy(yt)
    m = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Dropout(0.25), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    times = []
    for _ in range(a.epochs):
        start = time.time()
        m.train()
        order = torch.randperm(len(xtr))
        for i in range(0, len(order), 64):
            b = order[i:i + 64]
            loss = nn.functional.cross_entropy(m(xtr[b]), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        m.eval()
        with torch.no_grad():
            logits = torch.cat([m(xva[i:i + 256]) for i in range(0, len(xva), 256)])
            nn.functional.cross_entropy(logits, yva).item()
            (logits.argmax(1) == yva).float().mean().item()
        times.append(time.time() - start)
    with torch.no_grad():
        acc = (torch.cat([m(xte[i:i + 256]) for i in range(0, len(xte), 256)]).argmax(1) == yte).float().mean().item()
    return times, acc


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    work = tempfile.mkdtemp(prefix="moxing-mnist-")
    exe = os.path.join(work, "moxing")
    subprocess.run(["go", "build", "-o", exe, "./cmd/moxing"], cwd=ROOT, check=True)
    run = os.path.join(work, "run")
    env = dict(os.environ, GOMAXPROCS=str(a.threads), MOXING_DATA=DATA)
    out = subprocess.run([exe, "train", "--arch", "cnn", "--data", "mnist", "--epochs", str(a.epochs), "--patience", "0",
                          "--seed", str(a.seed), "--run", run], check=True, env=env, capture_output=True, text=True).stdout
    with open(os.path.join(run, "metrics.jsonl")) as f:
        mx_times = [json.loads(line)["seconds"] for line in f]
    mx_acc = float(re.search(r"accuracy ([0-9.]+)", out.split("test (")[1]).group(1))
    # moxing's test accuracy is that of its best epoch (by validation accuracy).

    pt_times, pt_acc = torch_run(a)
    mx, pt = min(mx_times), min(pt_times)
    print(f"MNIST ConvNet, {a.epochs} epoch(s), batch 64, Adam 1e-3, {a.threads} thread(s); best epoch time of each; PyTorch's BLAS: {blaspeer.describe()}\n")
    print("| | moxing | PyTorch 1.13 | ratio (target ≤ 1.0) |")
    print("|---|---|---|---|")
    print(f"| seconds per epoch (55,000 train + 5,000 validation) | {mx:.1f} | {pt:.1f} | {mx / pt:.2f} |")
    print(f"| test accuracy after {a.epochs} epoch(s) | {mx_acc:.4f} | {pt_acc:.4f} | |")
    print(f"\nall epochs (s): moxing {['%.1f' % s for s in mx_times]}, PyTorch {['%.1f' % s for s in pt_times]}")


if __name__ == "__main__":
    main()
