#!/usr/bin/env bash
# The test suite, as CI runs it: installs the real data sets (needs root
# for apt-get the first time), vets, runs every test, runs the tensor tests
# again with the NaN invariants on, and fuzzes the two file readers briefly.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/fetch-data.sh
go vet ./...
go test ./...
go test -tags invariants ./tensor/...
go test -run '^$' -fuzz '^FuzzReadCSV$' -fuzztime "${FUZZTIME:-15s}" ./data/
go test -run '^$' -fuzz '^FuzzRead$' -fuzztime "${FUZZTIME:-15s}" ./checkpoint/
