#!/usr/bin/env bash
# Times moxing's all-reduce (dist, -tags mpi) and MPI_Allreduce from C on
# the same buffer, on N ranks of this machine (default 2), over shared
# memory: bench/allreduce/run.sh [N] [floats]. Needs openmpi-bin and
# libopenmpi-dev. Each rank gets one thread (GOMAXPROCS=1).
set -euo pipefail
cd "$(dirname "$0")"
n=${1:-2}
floats=${2:-124439808}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=1 go build -tags mpi -o "$tmp/allreduce-go" .
mpicc -O2 -o "$tmp/allreduce-c" c/allreduce.c
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo -np "$n")
"${mpi[@]}" -x GOMAXPROCS=1 "$tmp/allreduce-go" -floats "$floats"
"${mpi[@]}" "$tmp/allreduce-c" "$floats" 5 $((25 << 20 >> 2))   # the same 25 MB buckets
"${mpi[@]}" "$tmp/allreduce-c" "$floats" 5 0                    # one call
