#!/usr/bin/python3
"""Writes the scikit-learn golden file that package metrics' Go tests read.

    /usr/bin/python3 tools/reference/metrics.py    # from the repository root

needs Debian's python3-sklearn (scikit-learn 1.2) and numpy, and rewrites
testdata/metrics.json. The Go tests never run Python; they read the committed
file.

Every case records its inputs and scikit-learn's values with the arguments
package metrics documents: labels=range(classes) and zero_division=0 for the
confusion-matrix metrics, multi_class="ovr" and average="macro" for multi-class
ROC AUC. Where scikit-learn raises (ROC AUC with one class present) the case
records "roc_auc_error": true instead of a value. Cases cover ties, a class
never predicted, a class never present, perfect predictions, constant
regression targets and probabilities at or near 0 and 1.
"""
import json
import os

import numpy as np
import sklearn
from sklearn import metrics as skm

rng = np.random.default_rng(1234)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "testdata")


def ints(x):
    return [int(v) for v in x]


def floats(x):
    return [float(v) for v in np.asarray(x).reshape(-1)]


def classification(name, pred, target, classes):
    """Accuracy, confusion matrix and per-class and macro precision/recall/F1."""
    labels = list(range(classes))
    p, r, f, _ = skm.precision_recall_fscore_support(target, pred, labels=labels, average=None, zero_division=0)
    return {
        "name": name,
        "classes": classes,
        "pred": ints(pred),
        "target": ints(target),
        "accuracy": float(skm.accuracy_score(target, pred)),
        "confusion": skm.confusion_matrix(target, pred, labels=labels).tolist(),
        "precision": floats(p),
        "recall": floats(r),
        "f1": floats(f),
        "macro_precision": float(skm.precision_score(target, pred, labels=labels, average="macro", zero_division=0)),
        "macro_recall": float(skm.recall_score(target, pred, labels=labels, average="macro", zero_division=0)),
        "macro_f1": float(skm.f1_score(target, pred, labels=labels, average="macro", zero_division=0)),
    }


def classification_cases():
    C = []
    n = 40
    t = rng.integers(0, 2, n)
    C.append(classification("binary_random", np.where(rng.random(n) < 0.75, t, 1 - t), t, 2))
    t = rng.integers(0, 4, 60)
    C.append(classification("multi_random", np.where(rng.random(60) < 0.5, t, rng.integers(0, 4, 60)), t, 4))
    t = rng.integers(0, 3, 25)
    C.append(classification("perfect", t, t, 3))
    t = rng.integers(0, 4, 50)
    p = np.where(rng.random(50) < 0.6, t, rng.integers(0, 4, 50))
    C.append(classification("never_predicted", np.where(p == 2, 0, p), t, 4))
    t = rng.integers(0, 3, 50)
    C.append(classification("never_present", np.where(rng.random(50) < 0.6, t, rng.integers(0, 4, 50)), t, 4))
    t = rng.integers(0, 4, 50)
    C.append(classification("absent_from_both", np.where(rng.random(50) < 0.6, t, rng.integers(0, 4, 50)), t, 5))
    t = rng.integers(0, 3, 30)
    C.append(classification("all_wrong", (t + 1) % 3, t, 3))
    C.append(classification("constant_pred", np.zeros(30, dtype=int), rng.integers(0, 3, 30), 3))
    C.append(classification("one_row", [1], [1], 2))
    t = rng.integers(0, 10, 1000)
    C.append(classification("ten_classes", np.where(rng.random(1000) < 0.3, t, rng.integers(0, 10, 1000)), t, 10))
    return C


def binary_auc(name, scores, positive):
    c = {"name": name, "scores": floats(scores), "positive": [bool(v) for v in positive]}
    try:
        c["roc_auc"] = float(skm.roc_auc_score(positive, scores))
    except ValueError:
        c["roc_auc_error"] = True
    return c


def binary_auc_cases():
    C = []
    y = rng.random(30) < 0.4
    C.append(binary_auc("random", rng.normal(size=30) + y, y))
    y = rng.random(40) < 0.5
    C.append(binary_auc("ties", np.round(rng.random(40) * 0.6 + 0.4 * y, 1), y))
    y = rng.random(20) < 0.5
    C.append(binary_auc("all_tied", np.full(20, 0.3), y))
    y = np.arange(12) % 3 == 0
    C.append(binary_auc("perfect", y + rng.random(12) * 0.5, y))
    C.append(binary_auc("inverted", -(y + rng.random(12) * 0.5), y))
    C.append(binary_auc("near_0_and_1", [1e-300, 1e-17, 0.5, 1 - 1e-16, 1.0, 0.0, 1 - 1e-16, 1e-17],
                        [False, True, False, True, True, False, False, False]))
    C.append(binary_auc("only_positive", rng.random(10), np.ones(10, dtype=bool)))
    C.append(binary_auc("only_negative", rng.random(10), np.zeros(10, dtype=bool)))
    y = rng.random(2000) < 0.3
    C.append(binary_auc("large_ties", np.round(rng.normal(size=2000) + 0.8 * y, 1), y))
    return C


def probabilistic(name, probs, target, classes, ovr=True):
    """Log loss and, for rows that sum to 1, macro one-vs-rest ROC AUC.

    scikit-learn takes two-class scores as the positive column alone, to which
    the one-vs-rest average reduces when rows sum to 1.
    """
    probs = np.asarray(probs, dtype=np.float64)
    c = {"name": name, "classes": classes, "probs": floats(probs), "target": ints(target),
         "log_loss": float(skm.log_loss(target, probs, labels=list(range(classes))))}
    if ovr:
        try:
            if classes == 2:
                c["roc_auc"] = float(skm.roc_auc_score(target, probs[:, 1]))
            else:
                c["roc_auc"] = float(skm.roc_auc_score(target, probs, multi_class="ovr", average="macro",
                                                       labels=list(range(classes))))
        except ValueError:
            c["roc_auc_error"] = True
    return c


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def probabilistic_cases():
    C = []
    t = rng.integers(0, 3, 30)
    C.append(probabilistic("softmax_3", softmax(rng.normal(size=(30, 3)) + 1.5 * np.eye(3)[t]), t, 3))
    t = rng.integers(0, 5, 100)
    C.append(probabilistic("tied_rows_5", softmax(rng.integers(0, 3, (100, 5)) + np.eye(5)[t].astype(float)), t, 5))
    t = rng.integers(0, 2, 20)
    C.append(probabilistic("binary", softmax(rng.normal(size=(20, 2)) + np.eye(2)[t]), t, 2))
    t = np.array([0, 1, 2, 2, 1, 0, 0, 2])
    C.append(probabilistic("one_hot_perfect", np.eye(3)[t], t, 3))
    C.append(probabilistic("one_hot_wrong", np.eye(3)[(t + 1) % 3], t, 3))
    near = [[1 - 2e-16, 1e-16, 1e-16],
            [1e-20, 1 - 1e-20, 0.0],
            [1e-300, 0.0, 1.0],
            [0.5 - 1e-17, 1e-17, 0.5],
            [1e-15, 1 - 2e-15, 1e-15],
            [1 - 1e-12, 5e-13, 5e-13]]
    C.append(probabilistic("near_0_and_1", near, [0, 0, 2, 1, 1, 2], 3))
    t = rng.integers(0, 3, 30)
    C.append(probabilistic("class_never_present", softmax(rng.normal(size=(30, 4))), t, 4))
    t = rng.integers(0, 3, 15)
    C.append(probabilistic("unnormalised", rng.random((15, 3)) * 2, t, 3, ovr=False))
    t = rng.integers(0, 8, 500)
    C.append(probabilistic("large_8", softmax(2 * rng.normal(size=(500, 8)) + np.eye(8)[t]), t, 8))
    return C


def regression(name, pred, target):
    return {
        "name": name,
        "pred": floats(pred),
        "target": floats(target),
        "mse": float(skm.mean_squared_error(target, pred)),
        "rmse": float(skm.mean_squared_error(target, pred, squared=False)),
        "mae": float(skm.mean_absolute_error(target, pred)),
        "r2": float(skm.r2_score(target, pred)),
    }


def regression_cases():
    C = []
    y = rng.normal(size=50)
    C.append(regression("random", y + 0.3 * rng.normal(size=50), y))
    C.append(regression("perfect", y, y))
    C.append(regression("worse_than_mean", -y, y))
    C.append(regression("constant_target_perfect", np.full(10, 2.5), np.full(10, 2.5)))
    C.append(regression("constant_target_wrong", np.full(10, 2.5) + rng.normal(size=10), np.full(10, 2.5)))
    y = 1e6 + rng.normal(size=40)
    C.append(regression("large_offset", y + 0.1 * rng.normal(size=40), y))
    C.append(regression("two_rows", [1.0, 4.0], [2.0, 3.0]))
    y = rng.normal(size=1000) * 10
    C.append(regression("large", y + rng.normal(size=1000), y))
    return C


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("wrote", os.path.relpath(path, ROOT))


if __name__ == "__main__":
    write("metrics.json", {
        "generator": "tools/reference/metrics.py",
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "classification": classification_cases(),
        "binary_auc": binary_auc_cases(),
        "probabilistic": probabilistic_cases(),
        "regression": regression_cases(),
    })
