#!/usr/bin/env bash
# The test suite, as CI runs it: installs the real data sets (needs root
# for apt-get the first time), vets, runs every test, runs the tensor, model
# and training tests again with the NaN invariants on, runs everything again on the portable
# (pure-Go) kernels, fuzzes the file readers (CSV, IDX, safetensors, model
# cards, token files) and the GEMM briefly, and, under
# CI=true (or MOXING_EMULATE_AVX512=1) on a CPU without AVX-512, runs the
# kernel tests' AVX-512 cases on an emulated CPU (scripts/emulate-avx512.sh:
# installs Bochs and builds a small Linux kernel the first time, a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/fetch-data.sh
go vet ./...
go test ./...
go test -tags invariants ./tensor/... ./models/... ./train  # NaN checks; arena buffers are NaN after Reset
go test -tags purego ./...   # the whole suite on the portable kernels
go test -run '^$' -fuzz '^FuzzReadCSV$' -fuzztime "${FUZZTIME:-15s}" ./data/
go test -run '^$' -fuzz '^FuzzReadIDX$' -fuzztime "${FUZZTIME:-15s}" ./data/
go test -run '^$' -fuzz '^FuzzRead$' -fuzztime "${FUZZTIME:-15s}" ./checkpoint/
go test -run '^$' -fuzz '^FuzzGemm$' -fuzztime "${FUZZTIME:-15s}" ./internal/kernel/
go test -run '^$' -fuzz '^FuzzRead$' -fuzztime "${FUZZTIME:-15s}" ./load/            # a checkpoint with a hostile card
go test -run '^$' -fuzz '^FuzzReadTokens$' -fuzztime "${FUZZTIME:-15s}" ./data/

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
