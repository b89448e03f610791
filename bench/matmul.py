#!/usr/bin/python3
"""moxing's float32 matrix multiply against OpenBLAS (numpy), side by side.

    /usr/bin/python3 bench/matmul.py [--seconds 1] [--threads 1,2]   # from the repository root

Builds `moxing` from this checkout and, for each shape and thread count,
times `moxing bench matmul` and numpy's `a @ b` (OpenBLAS, threads capped
with threadpoolctl) alternately on the same machine, three times each, and
keeps each side's best. Prints a Markdown table with the ratio
moxing/OpenBLAS. Shapes: squares 64…2048, and the GPT-2 small linear layers
for B·T = 256 rows and for one row (generation), with the weight stored
(out, in) as a Linear layer keeps it (B transposed), and the one-row
products once more with the weight stored (in, out), as Hugging Face's
GPT-2 Conv1D keeps it.
"""
import argparse
import os
import re
import subprocess
import tempfile
import time

import blaspeer  # (before numpy: OpenBLAS's kernels)
import numpy as np
from threadpoolctl import threadpool_limits

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def numpy_gflops(m, n, k, trans_b, threads, seconds):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
    bb = b.T if trans_b else b  # a view: BLAS gets the transposed flag, no copy
    flops = 2.0 * m * n * k
    with threadpool_limits(threads, "blas"):
        a @ bb
        best = 0.0
        for _ in range(5):
            reps, start = 0, time.perf_counter()
            while reps == 0 or time.perf_counter() - start < seconds / 5:
                a @ bb
                reps += 1
            best = max(best, flops * reps / (time.perf_counter() - start) / 1e9)
    return best


def moxing_gflops(exe, m, n, k, trans_b, threads, seconds):
    args = [exe, "bench", "matmul", "--m", str(m), "--n", str(n), "--k", str(k),
            "--threads", str(threads), "--seconds", str(seconds)]
    if trans_b:
        args.append("--trans-b")
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return float(re.search(r"GFLOPS=([0-9.]+)", out[-1]).group(1)), out[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    exe = os.path.join(tempfile.mkdtemp(prefix="moxing-bench-"), "moxing")
    subprocess.run(["go", "build", "-o", exe, "./cmd/moxing"], cwd=ROOT, check=True)

    shapes = [(f"{s}×{s}×{s}", s, s, s, False) for s in (64, 128, 256, 512, 1024, 2048)]
    for name, k, n in (("attn c_attn", 768, 2304), ("mlp c_fc", 768, 3072), ("mlp c_proj", 3072, 768), ("lm_head", 768, 50257)):
        shapes.append((f"GPT-2 {name} 256×{k}→{n}", 256, n, k, True))
        shapes.append((f"GPT-2 {name} 1×{k}→{n}", 1, n, k, True))
    # Hugging Face's GPT-2 stores its Conv1D weights (in, out): generation
    # multiplies one row by an untransposed B.
    for name, k, n in (("attn c_attn", 768, 2304), ("mlp c_fc", 768, 3072), ("mlp c_proj", 3072, 768)):
        shapes.append((f"GPT-2 {name} 1×{k}→{n}, W (in, out)", 1, n, k, False))

    print(f"{blaspeer.describe()}\n")
    print("| shape (M×K→N or M×N×K) | threads | moxing GFLOPS | OpenBLAS GFLOPS | moxing / OpenBLAS |")
    print("|---|---|---|---|---|")
    kernels = ""
    for name, m, n, k, trans_b in shapes:
        for threads in [int(t) for t in args.threads.split(",")]:
            # Alternate the two, best of three each: the machine's speed
            # drifts by tens of percent from one second to the next.
            mox = blas = 0.0
            for _ in range(3):
                g, kernels = moxing_gflops(exe, m, n, k, trans_b, threads, args.seconds)
                mox = max(mox, g)
                blas = max(blas, numpy_gflops(m, n, k, trans_b, threads, args.seconds))
            print(f"| {name} | {threads} | {mox:.1f} | {blas:.1f} | {mox / blas:.2f} |", flush=True)
    print(f"\nmoxing {kernels.split(',')[0]}; numpy {np.__version__} with OpenBLAS; best of 3 alternating runs of 5 rounds each, {args.seconds}s per run")


if __name__ == "__main__":
    main()
