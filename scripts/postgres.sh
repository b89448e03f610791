#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for the ledger's tests
# (as the postgres user, trust authentication, port $MOXING_PGPORT or 55432,
# data in $MOXING_PGDATA or /tmp/moxing-pg) and prints its URL. Installs
# Debian's postgresql the first time. Safe to run again: a running cluster
# is reused.
set -euo pipefail
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=${MOXING_PGDATA:-/tmp/moxing-pg}
port=${MOXING_PGPORT:-55432}
if ! su postgres -c "$bin/pg_ctl -D $dir status" >/dev/null 2>&1; then
	rm -rf "$dir"
	mkdir -p "$dir"
	chown postgres "$dir"
	su postgres -c "$bin/initdb -D $dir -A trust -U postgres" >/dev/null
	su postgres -c "$bin/pg_ctl -D $dir -o '-p $port -k /tmp -c listen_addresses=127.0.0.1' -l $dir/log -w start" >/dev/null
fi
echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
