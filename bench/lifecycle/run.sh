#!/bin/bash
# Lifecycle bench: runs/s through the API versus the same rows written by plain
# INSERT/UPDATE into trigger-less tables, at 1, 2 and 8 clients, in one
# throwaway cluster. Usage: bench/lifecycle/run.sh [seconds per point] [rounds]
# (after make install). For each client count it alternates plain and API
# runs for the given rounds, so that noise on a shared machine hits both
# alike, and prints the median runs/s of each and the median of the
# per-round ratios api/plain.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-10}
rounds=${2:-3}
if [ "${IN_VIRTUALENV:-}" != 1 ]; then
	# -t: a private cluster; PREFACTOR_DESTDIR: an extension installed with make install DESTDIR=...
	IN_VIRTUALENV=1 exec pg_virtualenv -t ${PREFACTOR_DESTDIR:+-o "extension_destdir=$PREFACTOR_DESTDIR"} \
		-o 'shared_buffers=512MB' -o 'max_wal_size=4GB' -o 'synchronous_commit=off' "$0" "$@"
fi
tmp=$(mktemp -d)
# the baseline compares pfids, whose operators live in schema prefactor
export PGOPTIONS="-c search_path=public,prefactor"
"$here/gen-scripts.sh" "$tmp"
psql -qX -v ON_ERROR_STOP=1 -f "$here/setup.sql" >/dev/null
# one API run first, so the version and schema version exist, as in steady state
pgbench -n -t 1 -f "$tmp/api.pgbench" >/dev/null
read -r acct part agent ver sv env <<<"$(psql -qXAt -F ' ' -c "SET search_path = prefactor; SELECT i.account_id, pfid_partition(i.account_id), i.agent_id, i.version_id, i.schema_version_id, i.environment_id FROM prefactor.instances i LIMIT 1")"
vars=(-D acct="$acct" -D part="$part" -D agent="$agent" -D ver="$ver" -D sv="$sv" -D env="$env")

# fill both paths' tables with 1,000 runs (21,000 spans) each, then give the
# planner statistics, as autovacuum does in a running system: statistics
# taken on near-empty tables leave the sessions' cached plans (the foreign
# key checks' too) scanning tables that grow during the measurement
pgbench -n -c 2 -j 2 -t 500 -f "$tmp/api.pgbench" >/dev/null 2>&1
pgbench -n -c 2 -j 2 -t 500 "${vars[@]}" -f "$tmp/plain.pgbench" >/dev/null 2>&1
psql -qX -c "ANALYZE"

tps() { pgbench -n -T "$secs" -c "$1" -j "$1" "${@:2}" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-8s %12s %12s %8s   %s\n' clients api_runs/s plain_runs/s ratio "ratios of the ${rounds} rounds"
for c in 1 2 8; do
	plains=() apis=() ratios=()
	for r in $(seq 1 "$rounds"); do
		plain=$(tps "$c" "${vars[@]}" -f "$tmp/plain.pgbench")
		api=$(tps "$c" -f "$tmp/api.pgbench")
		plains+=("$plain") apis+=("$api")
		ratios+=("$(awk -v a="$api" -v p="$plain" 'BEGIN { printf "%.2f", a / p }')")
	done
	printf '%-8s %12.1f %12.1f %8.2f   %s\n' "$c" \
		"$(printf '%s\n' "${apis[@]}" | median)" "$(printf '%s\n' "${plains[@]}" | median)" \
		"$(printf '%s\n' "${ratios[@]}" | median)" "${ratios[*]}"
done
rm -rf "$tmp"
