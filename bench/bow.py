#!/usr/bin/python3
"""Bag-of-n-grams text classifiers: moxing train --arch bow beside
scikit-learn's TF-IDF + logistic regression, on the sentiment split of
bench/sentiment.py (IMDB + Amazon sentences to train and validate, Yelp to
test), with the same n-gram settings, over several seeds.

    scripts/fetch-data.sh                  # once: installs the data
    /usr/bin/python3 bench/bow.py          # from the repository root
    /usr/bin/python3 bench/bow.py --seeds 1,2,3,4,5

Each seed draws its own stratified 80/20 split of IMDB + Amazon (seed 1 is
bench/sentiment.py's split, by its split()); both sides train on it and see Yelp only to
be scored. Both solve the same problem for each of scikit-learn's C among
0.1 … 100 (7 values) and keep the one with the best validation accuracy
(the first, i.e. the smallest C, on ties): scikit-learn's
LogisticRegression (L-BFGS), and moxing train --optimizer lbfgs on full
batches for 40 epochs, its final weights, with --weight-decay 2/(C·n) for
n training texts. That is the same objective: moxing's loss is the mean
over the texts plus ½·wd·‖W‖², its two classes' weights are w/2 and -w/2
at the optimum, and scikit-learn's is C times the sum plus ½·‖w‖² (moxing
decays the bias too). Settings:

- words: word unigrams and bigrams, sublinear tf, smoothed idf, L2 norm
  (TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True));
- words+chars: and character 2- to 5-grams within word boundaries
  (scikit-learn: a FeatureUnion of that and
  TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
  each part normalised on its own, as moxing's rows are).

Each side runs in its own process; wall time (all regularisation values,
fitting the TF-IDF included) and peak RSS come from wait4. Classification
speed is moxing eval on the 1000 Yelp sentences, process start and model
load included. Prints a Markdown table.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from sentiment import FIX, ROOT, fixture, run, split  # the same data, split and process timing
CS = (0.1, 0.3, 1, 3, 10, 30, 100)  # scikit-learn's C, the inverse of the regularisation
CONFIGS = {"words": ((1, 2), None), "words+chars": ((1, 2), (2, 5))}


def read(path):
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def sklearn_side(out, config):
    """Runs in its own process: prints scikit-learn's Yelp accuracy as JSON."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.pipeline import FeatureUnion

    words, chars = CONFIGS[config]
    xt, yt = read(os.path.join(out, "train.jsonl"))
    xv, yv = read(os.path.join(out, "val.jsonl"))
    test = fixture("yelp")
    start = time.time()
    vec = TfidfVectorizer(ngram_range=words, sublinear_tf=True)
    if chars:
        vec = FeatureUnion([("w", vec), ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=chars, sublinear_tf=True))])
    xtr = vec.fit_transform(xt)
    best = None
    for c in CS:
        lr = LogisticRegression(C=c, max_iter=2000).fit(xtr, yt)
        acc = accuracy_score(yv, lr.predict(vec.transform(xv)))
        if best is None or acc > best[0]:
            best = (acc, c, lr)
    seconds = time.time() - start
    pred = best[2].predict(vec.transform([r["text"] for r in test]))
    print(json.dumps({"accuracy": accuracy_score([r["class"] for r in test], pred), "C": best[1], "fit_seconds": seconds}))


def moxing_side(exe, out, config):
    """Trains one moxing model a C, keeps the best on validation accuracy, scores it on Yelp."""
    words, chars = CONFIGS[config]
    n = sum(1 for _ in open(os.path.join(out, "train.jsonl")))
    best, seconds, peak = None, 0.0, 0.0
    for c in CS:
        runDir = os.path.join(out, f"bow-{config}-{c}")
        cmd = [exe, "train", "--arch", "bow", "--data", os.path.join(out, "train.jsonl"),
               "--val-data", os.path.join(out, "val.jsonl"), "--word-ngrams", "%d,%d" % words,
               "--char-ngrams", "%d,%d" % chars if chars else "", "--optimizer", "lbfgs", "--lr", "1",
               "--batch-size", str(n), "--epochs", "40", "--patience", "0", "--weight-decay", repr(2 / (c * n)),
               "--run", runDir, "--json"]
        _, _, s, rss = run(cmd)
        seconds, peak = seconds + s, max(peak, rss)
        with open(os.path.join(runDir, "metrics.jsonl")) as f:
            acc = [r for r in map(json.loads, f) if "epoch" in r][-1]["val_accuracy"]
        if best is None or acc > best[0]:
            best = (acc, c, runDir)
    res, _, evalSeconds, _ = run([exe, "eval", "--model", os.path.join(best[2], "last.safetensors"),
                                  "--data", os.path.join(FIX, "yelp.json"), "--json"])
    return {"accuracy": json.loads(res)["metrics"]["accuracy"], "C": best[1], "seconds": seconds,
            "peak_mb": peak, "eval_seconds": evalSeconds}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3", help="split seeds, comma-separated")
    ap.add_argument("--configs", default="words,words+chars")
    ap.add_argument("--out", help="folder for the runs (default: a temporary one)")
    ap.add_argument("--sklearn", nargs=2, metavar=("OUT", "CONFIG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sklearn:
        return sklearn_side(*args.sklearn)
    out = args.out or tempfile.mkdtemp(prefix="moxing-bow-")
    exe = os.path.join(out, "moxing")
    subprocess.run(["go", "build", "-o", exe, "./cmd/moxing"], cwd=ROOT, check=True)
    print(f"Yelp accuracy, trained on IMDB + Amazon; seeds {args.seeds}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}\n")
    print("| features | seed | scikit-learn | moxing | scikit-learn s | moxing s | scikit-learn MB | moxing MB | moxing eval of 1000 texts s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for config in args.configs.split(","):
        sk_acc, mx_acc = [], []
        for seed in map(int, args.seeds.split(",")):
            d = os.path.join(out, f"seed{seed}")
            os.makedirs(d, exist_ok=True)
            split(seed, d)
            res, _, sk_s, sk_mb = run([sys.executable, os.path.abspath(__file__), "--sklearn", d, config])
            sk = json.loads(res)
            mx = moxing_side(exe, d, config)
            sk_acc.append(sk["accuracy"])
            mx_acc.append(mx["accuracy"])
            print(f"| {config} | {seed} | {sk['accuracy']:.3f} (C={sk['C']:g}) | {mx['accuracy']:.3f} (C={mx['C']:g}) | "
                  f"{sk_s:.1f} | {mx['seconds']:.1f} | {sk_mb:.0f} | {mx['peak_mb']:.0f} | {mx['eval_seconds']:.2f} |", flush=True)
        print(f"| {config} | mean | {statistics.mean(sk_acc):.3f} | {statistics.mean(mx_acc):.3f} | | | | | |", flush=True)


if __name__ == "__main__":
    main()
