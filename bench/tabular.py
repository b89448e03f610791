#!/usr/bin/python3
"""moxing vs scikit-learn on the tabular data sets, on exactly the same splits.

    scripts/fetch-data.sh                      # once: installs the data
    /usr/bin/python3 bench/tabular.py          # from the repository root

For each data set and seed, runs `moxing train` (built from this checkout),
reads the run's split.json, and fits scikit-learn on the same training rows
(standardised the same way: StandardScaler fitted on the training rows),
then scores both on the same held-out test rows. Prints a Markdown table of
the mean over seeds, with moxing's wall time per run. Needs Debian's
python3-sklearn (installed by scripts/fetch-data.sh).
"""
import argparse
import warnings
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import blaspeer  # noqa: F401  (before numpy: OpenBLAS's kernels)
import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.environ.get("MOXING_DATA", os.path.expanduser("~/.cache/moxing/data"))

with open(os.path.join(ROOT, "bench", "tabular.json")) as f:
    SETS = json.load(f)["sets"]


def load(path, flags):
    skip = int(flags[flags.index("--skip-rows") + 1]) if "--skip-rows" in flags else 0
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        lines = [l for l in f.read().splitlines()[skip:] if l.strip()]
    sep = "," if "," in lines[0] else None
    rows = np.array([[float(v) for v in (l.split(sep))] for l in lines])
    return rows[:, :-1], rows[:, -1]


def main():
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--moxing", help="moxing binary (default: go build this checkout)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="moxing-bench-")
    exe = args.moxing
    if not exe:
        exe = os.path.join(tmp, "moxing")
        subprocess.run(["go", "build", "-o", exe, "./cmd/moxing"], cwd=ROOT, check=True)

    print("| data set | metric (target) | moxing | scikit-learn MLP | scikit-learn linear | moxing train wall time |")
    print("|---|---|---|---|---|---|")
    for ds in SETS:
        name, fname, flags, hidden = ds["name"], ds["file"], ds["flags"], tuple(ds["hidden"])
        metric = "r2" if "r2" in ds["targets"] else "accuracy"
        path = os.path.join(DATA, "tabular", fname)
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run scripts/fetch-data.sh")
        X, y = load(path, flags)
        mox, mlp, lin, walls, aucs, sk_aucs = [], [], [], [], [], []
        for seed in range(1, args.seeds + 1):
            run = os.path.join(tmp, f"{fname}-{seed}")
            t0 = time.time()
            subprocess.run([exe, "train", "--data", path, "--seed", str(seed), "--run", run, *flags],
                           check=True, capture_output=True)
            walls.append(time.time() - t0)
            with open(os.path.join(run, "test_metrics.json")) as f:
                m = json.load(f)["metrics"]
            mox.append(m[metric])
            if "auc" in ds["targets"]:
                aucs.append(m["auc"])
            with open(os.path.join(run, "split.json")) as f:
                split = json.load(f)
            tr, te = split["train"], split["test"]
            sc = StandardScaler().fit(X[tr])
            Xtr, Xte = sc.transform(X[tr]), sc.transform(X[te])
            if metric == "r2":
                a = MLPRegressor(hidden, max_iter=2000, random_state=seed).fit(Xtr, y[tr])
                b = Ridge().fit(Xtr, y[tr])
                mlp.append(r2_score(y[te], a.predict(Xte)))
                lin.append(r2_score(y[te], b.predict(Xte)))
            else:
                a = MLPClassifier(hidden, max_iter=2000, random_state=seed).fit(Xtr, y[tr])
                b = LogisticRegression(max_iter=5000).fit(Xtr, y[tr])
                mlp.append(accuracy_score(y[te], a.predict(Xte)))
                lin.append(accuracy_score(y[te], b.predict(Xte)))
                if "auc" in ds["targets"]:
                    sk_aucs.append(roc_auc_score(y[te], a.predict_proba(Xte)[:, 1]))
        f = lambda v: f"{np.mean(v):.4f}"
        print(f"| {name} | {metric} (≥ {ds['targets'][metric]}) | {f(mox)} | {f(mlp)} | {f(lin)} | {np.mean(walls):.2f} s |")
        if aucs:
            print(f"| {name} | ROC AUC (≥ {ds['targets']['auc']}) | {f(aucs)} | {f(sk_aucs)} | | |")
    print(f"\nmean over seeds 1..{args.seeds}; same train/test rows for every column; moxing flags: bench/tabular.json")


if __name__ == "__main__":
    main()
