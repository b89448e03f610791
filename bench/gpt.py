#!/usr/bin/python3
"""moxing's GPT against PyTorch 1.13 (CPU), side by side, equal threads.

    /usr/bin/python3 bench/gpt.py [--threads 2]      # from the repository root

For (a) the tiny config (vocab 80, 4 layers, 4 heads, C=128, T=256, B=16)
and (b) GPT-2 small (124M, B=4, T=64 and B=8, T=128): training ms/step
(forward, backward, AdamW; for GPT-2 small also moxing's GFLOP/s of
6·params·tokens and its share of the machine's FMA peak, which moxing
measures just before and after its steps) and, for GPT-2
small, batch-1 generation tokens/s with a KV cache.
PyTorch runs the reference model of tools/reference/gpt2.py at its best on
this machine (OMP_WAIT_POLICY=PASSIVE, torch.set_num_threads, OpenBLAS
capped with threadpoolctl), with a KV cache written here for generation.
moxing runs `moxing bench gpt`. Prints a Markdown table with the ratios.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import blaspeer  # noqa: E402  (before torch: OpenBLAS's kernels)
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
import gpt2  # noqa: E402

TINY = dict(vocab_size=80, n_positions=256, n_embd=128, n_layer=4, n_head=4)
SMALL = dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12)


def torch_train(cfg, b, t, seconds):
    torch.manual_seed(1)
    m = gpt2.GPT2(cfg)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, weight_decay=0.1)
    x = torch.randint(0, cfg["vocab_size"], (b, t))
    y = torch.randint(0, cfg["vocab_size"], (b, t))

    def step():
        _, loss = m(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    step()
    n, start = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - start < seconds:
        step()
        n += 1
    return (time.perf_counter() - start) * 1000 / n


@torch.no_grad()
def torch_generate(cfg, tokens):
    """Greedy decoding, batch 1, with a KV cache per layer."""
    torch.manual_seed(1)
    m = gpt2.GPT2(cfg).eval()
    h, c = cfg["n_head"], cfg["n_embd"]
    d = c // h

    def step(idx, pos, cache):
        x = m.wte(idx) + m.wpe(torch.arange(pos, pos + idx.shape[1]))
        for li, blk in enumerate(m.h):
            a = blk.attn
            q, k, v = a.c_attn(blk.ln_1(x)).split(c, dim=2)
            q, k, v = (z.view(1, -1, h, d).transpose(1, 2) for z in (q, k, v))
            if cache[li] is not None:
                k, v = torch.cat([cache[li][0], k], 2), torch.cat([cache[li][1], v], 2)
            cache[li] = (k, v)
            att = (q @ k.transpose(-2, -1)) / d ** 0.5
            if q.shape[2] > 1:
                mask = torch.triu(torch.ones(q.shape[2], k.shape[2], dtype=torch.bool), 1)
                att = att.masked_fill(mask, float("-inf"))
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(1, -1, c)
            x = x + a.c_proj(y)
            x = x + blk.mlp(blk.ln_2(x))
        return m.ln_f(x[:, -1]) @ m.wte.weight.t()

    cache = [None] * cfg["n_layer"]
    logits = step(torch.tensor([[1]]), 0, cache)
    start = time.perf_counter()
    for i in range(tokens):
        tok = logits.argmax(-1).view(1, 1)
        logits = step(tok, i + 1, cache)
    return tokens / (time.perf_counter() - start)


def run(cmd):
    """Runs cmd and returns its stdout lines and its peak RSS in MB."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"{cmd} failed")
    return out.strip().splitlines(), usage.ru_maxrss / 1024


def worker(args):
    """One PyTorch measurement in this (fresh) process, so that its peak RSS
    is its own: prints ms/step or tokens/s."""
    torch.set_num_threads(args.threads)
    cfg = TINY if args.worker[1] == "tiny" else SMALL
    with threadpool_limits(args.threads, "blas"):
        if args.worker[0] == "train":
            print(torch_train(cfg, int(args.worker[2]), int(args.worker[3]), args.seconds))
        else:
            print(torch_generate(cfg, args.tokens))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)  # train|generate, config, B, T
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    exe = os.path.join(tempfile.mkdtemp(prefix="moxing-bench-"), "moxing")
    subprocess.run(["go", "build", "-o", exe, "./cmd/moxing"], cwd=ROOT, check=True)
    th = str(args.threads)
    me = [sys.executable, os.path.abspath(__file__), "--threads", th, "--seconds", str(args.seconds), "--tokens", str(args.tokens)]
    rows = []
    for name, b, t, flag in (("tiny (B=16, T=256)", 16, 256, "tiny"), ("GPT-2 small (B=4, T=64)", 4, 64, "gpt2-small"),
                             ("GPT-2 small (B=8, T=128)", 8, 128, "gpt2-small")):
        out, pt_rss = run(me + ["--worker", "train", flag, str(b), str(t)])
        pt = float(out[-1])
        out, mx_rss = run([exe, "bench", "gpt", "--config", flag, "--batch-size", str(b), "--seq", str(t), "--threads", th, "--seconds", str(args.seconds)])
        mx = float(re.search(r"ms/step=([0-9.]+)", out[-1]).group(1))
        alloc = re.search(r"allocated per step ([0-9.]+ MB \([0-9.]+% of it\))", out[0]).group(1)
        target = "≤ 1.0" if flag == "tiny" else "≤ 0.4"
        rows.append(f"| train {name}, ms/step | {mx:.0f} | {pt:.0f} | {mx / pt:.2f} ({target}) |")
        if flag != "tiny":
            gflops = re.search(r"tokens ([0-9.]+) GFLOP/s", out[0]).group(1)
            rows.append(f"| train {name}, GFLOP/s (6·params·tokens) | {gflops} | | |")
            share = re.search(r"= ([0-9.]+)% of the FMA peak \(([0-9.]+) GFLOP/s", out[0])
            if share:
                rows.append(f"| train {name}, % of the FMA peak ({share.group(2)} GFLOP/s, measured around the steps) | {share.group(1)}% | | (≥ 75%) |")
        rows.append(f"| train {name}, peak RSS MB | {mx_rss:.0f} | {pt_rss:.0f} | {mx_rss / pt_rss:.2f} (≤ 1.0) |")
        rows.append(f"| train {name}, allocated per step after warm-up | {alloc} | | |")
    out, pt_rss = run(me + ["--worker", "generate", "gpt2-small", "1", "0"])
    pt = float(out[-1])
    out, mx_rss = run([exe, "bench", "gpt", "--config", "gpt2-small", "--mode", "generate", "--tokens", str(args.tokens), "--threads", th])
    mx = float(re.search(r"tokens/s=([0-9.]+)", out[-1]).group(1))
    rows.append(f"| generate GPT-2 small, batch 1, tokens/s | {mx:.1f} | {pt:.1f} | {mx / pt:.2f} (≥ 1.3) |")
    rows.append(f"| generate GPT-2 small, peak RSS MB | {mx_rss:.0f} | {pt_rss:.0f} | {mx_rss / pt_rss:.2f} (≤ 1.0) |")
    print(f"PyTorch's BLAS: {blaspeer.describe()}\n")
    print(f"| measure ({args.threads} threads) | moxing | PyTorch {torch.__version__} | moxing / PyTorch (target) |")
    print("|---|---|---|---|")
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
