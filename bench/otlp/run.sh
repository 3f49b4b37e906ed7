#!/bin/bash
# OTLP bench: batches of 100 spans (one agent run: a root, invoke_agent, 49
# chats with messages and usage, 49 tool calls; validated span types) stored
# by prefactor_otlp_export, versus the same rows recorded by calling the SQL
# API directly (prefactor_start_run, 100 x prefactor_record_span, parents
# first, prefactor_finish_run, one call per statement as a client makes them),
# in one throwaway cluster, alternating rounds. With the gateway built, also
# the OTLP requests posted over HTTP through prefactor-gateway (node, fetch),
# as OTLP/JSON and as OTLP protobuf (the same request, encoded by post.mjs).
# Usage: bench/otlp/run.sh [seconds per point] [rounds]   (after make install)
# Prints batches/s (= runs of 100 spans/s) and the ratio otlp/direct per
# client count: medians over the rounds.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-10}
rounds=${2:-3}
if [ "${IN_VIRTUALENV:-}" != 1 ]; then
	IN_VIRTUALENV=1 exec pg_virtualenv -t ${PREFACTOR_DESTDIR:+-o "extension_destdir=$PREFACTOR_DESTDIR"} \
		-o 'shared_buffers=512MB' -o 'max_wal_size=4GB' -o 'synchronous_commit=off' "$0" "$@"
fi
tmp=$(mktemp -d)
chmod 755 "$tmp"
psql -qX -v ON_ERROR_STOP=1 -f "$here/setup.sql" >/dev/null
token=$(psql -qXAt -c "SELECT token FROM bench_token")
# one request first: its stored rows make the baseline's script
psql -qXAt -c "SELECT a.http_status FROM bench_body b, bench_token t,
	LATERAL prefactor.prefactor_otlp_export(t.token, replace(b.body, 'TRACEID', md5(random()::text))::jsonb) a" >/dev/null
psql -qX -f "$here/gen-direct.sql" > "$tmp/direct.pgbench"
[ "$(grep -c prefactor_record_span "$tmp/direct.pgbench")" = 100 ] || { echo "bench/otlp: the baseline script is not 100 spans"; exit 1; }
echo "SELECT a.http_status FROM bench_body b, bench_token t, LATERAL prefactor.prefactor_otlp_export(t.token, replace(b.body, 'TRACEID', md5(random()::text))::jsonb) a;" > "$tmp/otlp.pgbench"
psql -qXAt -c "SELECT body FROM bench_body" > "$tmp/body.json"

tps() { pgbench -n -T "$secs" -c "$1" -j "$1" "${@:2}" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }
# median
. "$here/../lib.sh"
# warm up, then statistics as autovacuum would give them
pgbench -n -T 3 -f "$tmp/direct.pgbench" >/dev/null 2>&1
pgbench -n -T 3 -f "$tmp/otlp.pgbench" >/dev/null 2>&1
psql -qX -c "ANALYZE"

# the gateway, when built and installed (a login role with ingest access)
GW=${PREFACTOR_DESTDIR:-}$(pg_config --bindir)/prefactor-gateway
[ -x "$GW" ] || GW=$here/../../src/gateway/prefactor-gateway
gw_pid=""
if [ -x "$GW" ] && command -v node >/dev/null; then
	PGOPTIONS="-c client_min_messages=warning" psql -qX -c "DROP ROLE IF EXISTS bench_otlp_gw" >/dev/null
	psql -qX -v pw="${PGPASSWORD:-}" <<< "CREATE ROLE bench_otlp_gw LOGIN PASSWORD :'pw';" >/dev/null
	psql -qX \
		-c "SELECT prefactor.prefactor_grant_access('bench', 'bench_otlp_gw', 'ingest')" >/dev/null
	port=$(shuf -i 20000-59999 -n 1)
	run_as=()
	[ "$(id -u)" -eq 0 ] && run_as=(--user nobody)
	PREFACTOR_GATEWAY_DB="host=${PGHOST:-localhost} port=${PGPORT:-5432} dbname=${PGDATABASE:-postgres} user=bench_otlp_gw" \
		"$GW" --port "$port" --pool-size 8 --max-body 4M --no-access-log "${run_as[@]}" > "$tmp/gateway.log" 2>&1 &
	gw_pid=$!
	for _ in $(seq 1 50); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
fi
trap '[ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

# post <clients> <json|protobuf>: requests/s through the gateway; a failed request stops the bench
post() {
	local out
	out=$(node "$here/post.mjs" "http://127.0.0.1:$port" "$token" "$1" "$secs" "$tmp/body.json" "$2")
	case "$out" in *'"errors":0,'*) ;; *) echo "bench/otlp: requests failed through the gateway ($2): $out" >&2; exit 1 ;; esac
	sed -n 's/.*"per_second":\([0-9.]*\).*/\1/p' <<< "$out"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-8s %10s %10s %6s %10s %6s %10s %6s   %s\n' clients direct/s otlp_sql/s ratio http_json/s ratio http_pb/s ratio \
	"ratios sql; http json; http protobuf of the ${rounds} rounds"
for c in 1 4; do
	ds=() os=() hs=() ps=() r1=() r2=() r3=()
	for r in $(seq 1 "$rounds"); do
		d=$(tps "$c" -f "$tmp/direct.pgbench")
		o=$(tps "$c" -f "$tmp/otlp.pgbench")
		ds+=("$d") os+=("$o") r1+=("$(ratio "$o" "$d")")
		if [ -n "$gw_pid" ]; then
			h=$(post "$c" json) p=$(post "$c" protobuf)
			hs+=("$h") ps+=("$p") r2+=("$(ratio "$h" "$d")") r3+=("$(ratio "$p" "$d")")
		fi
	done
	med() { if [ "$#" -gt 0 ]; then printf '%.1f' "$(printf '%s\n' "$@" | median)"; else echo -; fi; }
	medr() { if [ "$#" -gt 0 ]; then printf '%s\n' "$@" | median; else echo -; fi; }
	printf '%-8s %10s %10s %6s %10s %6s %10s %6s   %s\n' "$c" "$(med "${ds[@]}")" "$(med "${os[@]}")" \
		"$(medr "${r1[@]}")" "$(med "${hs[@]}")" "$(medr "${r2[@]}")" "$(med "${ps[@]}")" "$(medr "${r3[@]}")" \
		"${r1[*]}; ${r2[*]:-}; ${r3[*]:-}"
done
psql -qXAt -c "SELECT 'stored: ' || count(*) || ' spans in ' || count(DISTINCT instance_id) || ' runs; every OTLP run finished: ' ||
	(SELECT bool_and(i.status = 'complete') FROM prefactor.otlp_traces o JOIN prefactor.instances i ON i.id OPERATOR(prefactor.=) o.instance_id)
	FROM prefactor.spans"
