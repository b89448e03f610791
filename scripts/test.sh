#!/usr/bin/env bash
# The test suite, as CI runs it: installs the real data sets (needs root
# for apt-get the first time), the OpenAI Node client and headless
# Chromium, and starts a throwaway PostgreSQL (scripts/postgres.sh), vets, runs every test, runs the tensor, model
# and training tests again with the NaN invariants on, runs everything again on the portable
# (pure-Go) kernels, fuzzes the file readers (CSV, IDX, images, safetensors,
# GGUF, model cards, Hugging Face configs, tokenizers, token files) and the GEMM
# briefly, and, under
# CI=true (or MOXING_EMULATE_AVX512=1) on a CPU without AVX-512, runs the
# kernel tests' AVX-512 cases on an emulated CPU (scripts/emulate-avx512.sh:
# installs Bochs and builds a small Linux kernel the first time, a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/fetch-data.sh
# The official OpenAI Node client (npm openai, pinned in its package-lock),
# which cmd/moxing's TestOpenAIClient runs against moxing serve.
npm ci --prefix tools/openai-client --no-audit --no-fund --loglevel=error
# llama.cpp, prebuilt in npm's node-llama-cpp (pinned in its package-lock;
# npm install, not npm ci: the lock cannot list the optional builds for
# other platforms that the registry does not have at this version),
# which cmd/moxing's TestLlamaCpp runs on the GGUF files moxing writes.
npm install --prefix tools/llama-cpp --ignore-scripts --omit=optional --no-audit --no-fund --no-save --loglevel=error
# Debian packages, installed the first time only: Chromium, headless, for
# the web page's browser test (serve's TestPageInBrowser, driven with
# chromedp), with fonts-liberation for its screenshots; Open MPI for the
# data-parallel tests (cmd/moxing's TestMPIPretrain builds moxing with
# -tags mpi and runs mpirun; train's MPI tests run below).
# gcc builds the cgo MPI wrapper and TestLlamaCpp's call of llama.cpp's
# quantizer.
if ! command -v chromium >/dev/null || ! command -v mpirun >/dev/null || ! pkg-config --exists ompi-c 2>/dev/null || ! command -v gcc >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends chromium fonts-liberation openmpi-bin libopenmpi-dev pkg-config gcc libc6-dev >/dev/null
fi
# A throwaway PostgreSQL on loopback, for the ledger's tests on both of its
# databases (ledger/ledgertest); SQLite needs nothing.
export MOXING_TEST_POSTGRES=${MOXING_TEST_POSTGRES:-$(scripts/postgres.sh)}
go vet ./...
go test ./...
go test -tags invariants ./tensor/... ./models/... ./train  # NaN checks; arena buffers are NaN after Reset
go test -tags purego ./...   # the whole suite on the portable kernels
# The MPI wrapper and the data-parallel loop on 2 ranks of one mpirun job,
# on loopback: collectives, the all-reduced gradient against the whole
# batch's, and bit-identical replicas after 20 steps.
go vet -tags mpi ./dist ./train
mpidir=$(mktemp -d)
go test -c -tags mpi -o "$mpidir/train.test" ./train
(cd train && mpirun --allow-run-as-root --oversubscribe --mca btl self,vader,tcp --mca btl_tcp_if_include lo \
	--mca oob_tcp_if_include lo -np 2 "$mpidir/train.test" -test.run MPI)
rm -rf "$mpidir"
# Every reader of the outside world, fuzzed briefly, each for a count of
# inputs (about 10 s here; FUZZSCALE multiplies them) rather than a
# duration: with -fuzztime as a duration, Go 1.26's coordinator can report
# a spurious "context deadline exceeded" as the time runs out
# (go.dev/issue/75804, fixed in Go 1.27). Minimizing a new input is capped:
# by default it may take a minute, which looks like a stall.
for target in data:FuzzReadCSV:400000 data:FuzzReadIDX:200000 data:FuzzDecodeImage:120000 data:FuzzReadTokens:400000 \
	checkpoint:FuzzRead:600000 gguf:FuzzRead:300000 load:FuzzRead:500000 models/gpt:FuzzLoadHFConfig:400000 \
	tokenizer:FuzzLoad:150000 tokenizer:FuzzFromHFJSON:120000 internal/kernel:FuzzGemm:70000; do
	IFS=: read -r pkg name count <<<"$target"
	go test -run '^$' -fuzz "^$name\$" -fuzztime "$((count * ${FUZZSCALE:-1}))x" -fuzzminimizetime 2s "./$pkg/"
done

if grep -qw avx512f /proc/cpuinfo; then
	echo "test.sh: this CPU has AVX-512: go test ./... ran the AVX-512 kernels natively"
elif [[ ${CI:-} == true || -n ${MOXING_EMULATE_AVX512:-} ]]; then
	bin=$(mktemp -d)
	trap 'rm -rf "$bin"' EXIT
	CGO_ENABLED=0 go test -c -o "$bin/kernel.test" ./internal/kernel/
	# Every test; of the per-implementation subtests only avx512's (the
	# others ran natively above). The guest's clock runs ~75x slow.
	scripts/emulate-avx512.sh --timeout 1800 --dir internal/kernel --env MOXING_EXPECT_KERNELS=avx512 "$bin/kernel.test" -test.run '/avx512$'
else
	echo "test.sh: no AVX-512 here and not CI: the AVX-512 kernels were not run (MOXING_EMULATE_AVX512=1 runs them on an emulated CPU)"
fi
