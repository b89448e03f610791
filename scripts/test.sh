#!/usr/bin/env bash
# The test suite, as CI runs it: installs the real data sets (needs root
# for apt-get the first time), vets, runs every test, runs the tensor, model
# and training tests again with the NaN invariants on, runs everything again on the portable
# (pure-Go) kernels, and fuzzes the file readers and the GEMM briefly.
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
