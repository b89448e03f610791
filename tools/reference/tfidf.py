#!/usr/bin/python3
"""Writes testdata/tfidf.json, scikit-learn's TF-IDF rows of a few texts,
which models/bow's Vectorizer must reproduce.

    /usr/bin/python3 tools/reference/tfidf.py      # from the repository root

needs Debian's python3-sklearn. For each setting it records the texts the
vectorizer is fitted on, the texts it transforms (one with an n-gram the
fit never saw) and, for each, every nonzero feature's value by n-gram:
word n-grams as scikit-learn names them, character n-grams within word
boundaries (analyzer="char_wb") likewise.
"""
import json
import os

import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIT = [
    "The food was great, the service GREAT!",
    "Terrible food; never again.",
    "I'd go again: great value, great food.",
    "Ünïcode café, naïve reviews_2 x y",
    "so-so",
]
MORE = FIT + ["great unseen words and food", ""]
SETTINGS = [
    ("words_1_2_sublinear", dict(ngram_range=(1, 2), sublinear_tf=True)),
    ("words_1_1_raw", dict(ngram_range=(1, 1))),
    ("chars_2_4_sublinear", dict(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)),
]

cases = []
for name, kw in SETTINGS:
    vec = TfidfVectorizer(**kw).fit(FIT)
    terms = vec.get_feature_names_out()
    rows = []
    for row in vec.transform(MORE):
        row = row.tocoo()
        rows.append({str(terms[j]): float(v) for j, v in zip(row.col, row.data)})
    cases.append({"name": name, "analyzer": kw.get("analyzer", "word"), "ngram_range": list(kw["ngram_range"]),
                  "sublinear_tf": kw.get("sublinear_tf", False), "fit": FIT, "texts": MORE, "rows": rows,
                  "vocabulary": len(terms)})
path = os.path.join(ROOT, "testdata", "tfidf.json")
with open(path, "w") as f:
    json.dump({"generator": "tools/reference/tfidf.py", "sklearn": sklearn.__version__, "cases": cases}, f, indent=1, ensure_ascii=False)
    f.write("\n")
print("wrote", os.path.relpath(path, ROOT))
