#!/bin/bash
# Gateway bench: SDK span calls (create_span, then finish_span: one "span")
# through prefactor-gateway over HTTP, versus the same SQL functions called
# directly over libpq (pgbench, prepared statements), in one throwaway
# cluster, at 1 and 8 concurrent clients, each client on its own run, both as
# the same least-privilege role. Rounds alternate the two paths, so that noise
# on a shared machine hits both alike; it prints the median spans/s of each,
# the median ratio gateway/direct, and p50/p99 latency of a span (and of one
# HTTP request) through the gateway, and the CPU time per span of the gateway
# and of the load client.
# Usage: bench/gateway/run.sh [seconds per point] [rounds]   (after make install;
# PREFACTOR_DESTDIR as for make test). The HTTP load comes from
# bench/gateway/load.c (C threads on keep-alive connections, like pgbench on
# the direct path), which shares the machine.
#
# OTLP batches: bench/otlp/run.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-10}
rounds=${2:-3}
if [ "${IN_VIRTUALENV:-}" != 1 ]; then
	IN_VIRTUALENV=1 exec pg_virtualenv -t ${PREFACTOR_DESTDIR:+-o "extension_destdir=$PREFACTOR_DESTDIR"} \
		-o 'shared_buffers=512MB' -o 'max_wal_size=4GB' -o 'synchronous_commit=off' "$0" "$@"
fi
gw=${PREFACTOR_DESTDIR:-}$(pg_config --bindir)/prefactor-gateway
[ -x "$gw" ] || gw=$root/src/gateway/prefactor-gateway
tmp=$(mktemp -d)
chmod 755 "$tmp"
role=bench_gateway
q() { PGOPTIONS="-c client_min_messages=warning" psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

q -v pw="$PGPASSWORD" -v role=$role > /dev/null <<'SQL'
CREATE EXTENSION prefactor;
SELECT prefactor.prefactor_create_account('bench') IS NOT NULL;
SELECT prefactor.prefactor_create_environment('bench', 'production') IS NOT NULL;
SELECT prefactor.prefactor_register_agent('bench', 'bench-bot') IS NOT NULL;
DROP ROLE IF EXISTS :"role";
CREATE ROLE :"role" LOGIN PASSWORD :'pw';
SELECT prefactor.prefactor_grant_access('bench', :'role', 'ingest');
-- the direct path's runs, one per pgbench client (client_id 0..7)
CREATE TABLE bench_runs (n int PRIMARY KEY, id text NOT NULL);
GRANT SELECT ON bench_runs TO :"role";
SQL
token=$(q -c "SELECT prefactor.prefactor_create_ingest_token('bench', 'bench-bot', 'production')")
schema='{"external_identifier": "bench-1", "span_type_schemas": [{"name": "llm", "params_schema": {"type": "object", "required": ["inputs"], "properties": {"inputs": {"type": "object", "required": ["model"]}}}, "data_risk": {"action_profile": {"read_data": "allowed"}, "params_data_categories": {"classification": "internal"}}}]}'
# a run per client: registered and started through the SDK functions
new_run() {
	local id
	id=$(q -c "SELECT (prefactor.prefactor_sdk_register('$token', jsonb_build_object('agent_version', '{\"external_identifier\": \"v1\"}'::jsonb, 'agent_schema_version', '$schema'::jsonb))).body->'details'->>'id'")
	q -c "SELECT (prefactor.prefactor_sdk_start('$token', '$id', '{}')).http_status" > /dev/null
	echo "$id"
}
for n in 0 1 2 3 4 5 6 7; do q -c "INSERT INTO bench_runs VALUES ($n, '$(new_run)')"; done
gw_runs=()
for n in 0 1 2 3 4 5 6 7; do gw_runs+=("$(new_run)"); done

filler=$(printf 'x%.0s' $(seq 1 600))
cat > "$tmp/direct.pgbench" <<EOF
\set n random(1, 1000000000000)
SELECT (a).body->'details'->>'id' AS span FROM (SELECT prefactor.prefactor_sdk_create_span('$token', format('{"details": {"agent_instance_id": "%s", "schema_name": "llm", "status": "active", "payload": {"span_id": "%s", "trace_id": "bench-trace", "name": "llm", "status": "active", "inputs": {"model": "gpt-4o", "prompt": "$filler"}, "outputs": null, "metadata": {}, "token_usage": null, "error": null}, "parent_span_id": null, "started_at": "%s", "finished_at": null}}', (SELECT id FROM bench_runs WHERE n = :client_id::int), :n::text, now())::jsonb) a) x \gset
SELECT (prefactor.prefactor_sdk_finish_span('$token', :span::text, format('{"timestamp": "%s", "status": "complete", "result_payload": {"output": "$filler"}}', clock_timestamp())::jsonb)).http_status;
EOF

port=0
for _ in $(seq 1 50); do
	port=$(shuf -i 20000-59999 -n 1)
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
done
user_opt=()
[ "$(id -u)" -eq 0 ] && user_opt=(--user nobody)
PREFACTOR_GATEWAY_DB="host=${PGHOST:-localhost} port=$PGPORT dbname=${PGDATABASE:-postgres} user=$role" \
	"$gw" --port "$port" --pool-size 8 --no-access-log "${user_opt[@]}" 2> "$tmp/gateway.log" &
gw_pid=$!
trap 'kill -TERM $gw_pid 2>/dev/null; wait $gw_pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done

# direct: spans/s and p50/p99 of a span (one pgbench transaction), from its per-transaction log
direct() {
	local c=$1
	rm -f "$tmp"/pgb.*
	PGUSER=$role pgbench -n -M prepared -c "$c" -j "$c" -T "$secs" -l --log-prefix="$tmp/pgb" \
		-f "$tmp/direct.pgbench" > "$tmp/pgbench.out" 2>&1 || { cat "$tmp/pgbench.out" >&2; return 1; }
	cat "$tmp"/pgb.* | awk '{print $3 / 1000}' | sort -n > "$tmp/lat"
	local count p50 p99
	count=$(wc -l < "$tmp/lat")
	p50=$(sed -n "$((count / 2 + 1))p" "$tmp/lat")
	p99=$(sed -n "$((count * 99 / 100 + 1))p" "$tmp/lat")
	echo "$(echo "$count $secs" | awk '{printf "%.1f", $1 / $2}') $p50 $p99"
}
# CPU time of the gateway process so far, in ms
gw_cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($14 + $15) * 1000 / hz}' "/proc/$gw_pid/stat"; }
cc -O2 -Wall -pthread -o "$tmp/load" "$here/load.c"
gateway() {
	local c=$1 cpu0
	cpu0=$(gw_cpu_ms)
	"$tmp/load" "$port" "$token" "$c" "$secs" "${gw_runs[@]:0:$c}" > "$tmp/load.json"
	node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		if (o.errors) { console.error(`gateway: ${o.errors} calls failed`); process.exit(1); }
		const us = (ms) => (ms * 1000 / o.spans).toFixed(0);
		console.log(`${o.spans_per_s} ${o.span_ms.p50} ${o.span_ms.p99} ${o.request_ms.p50} ${o.request_ms.p99} ${us(process.argv[2])} ${us(o.client_cpu_ms)}`)' \
		"$tmp/load.json" "$(($(gw_cpu_ms) - cpu0))"
}
# median
. "$here/../lib.sh"

# warm both paths
secs_saved=$secs; secs=2; direct 2 > /dev/null; gateway 2 > /dev/null; secs=$secs_saved

echo "gateway bench: ${secs} s per point, $rounds rounds; span = create_span + finish_span (~0.7 KB payload and result)"
printf '%-8s %14s %14s %8s %22s %22s %22s %14s %14s\n' clients direct_spans/s gateway_spans/s ratio "direct span p50/p99 ms" "gateway span p50/p99" "gateway request p50/p99" "gateway_cpu_us" "client_cpu_us"
for c in 1 8; do
	: > "$tmp/d"; : > "$tmp/g"; : > "$tmp/r"
	for _ in $(seq 1 "$rounds"); do
		read -r dr dp50 dp99 <<<"$(direct "$c")"
		read -r gr gp50 gp99 rp50 rp99 gcpu ccpu <<<"$(gateway "$c")"
		echo "$dr $dp50 $dp99" >> "$tmp/d"
		echo "$gr $gp50 $gp99 $rp50 $rp99 $gcpu $ccpu" >> "$tmp/g"
		echo "$gr $dr" | awk '{printf "%.3f\n", $1 / $2}' >> "$tmp/r"
	done
	printf '%-8s %14s %14s %8s %22s %22s %22s %14s %14s\n' "$c" \
		"$(cut -d' ' -f1 "$tmp/d" | median)" "$(cut -d' ' -f1 "$tmp/g" | median)" "$(median < "$tmp/r")" \
		"$(cut -d' ' -f2 "$tmp/d" | median)/$(cut -d' ' -f3 "$tmp/d" | median)" \
		"$(cut -d' ' -f2 "$tmp/g" | median)/$(cut -d' ' -f3 "$tmp/g" | median)" \
		"$(cut -d' ' -f4 "$tmp/g" | median)/$(cut -d' ' -f5 "$tmp/g" | median)" \
		"$(cut -d' ' -f6 "$tmp/g" | median)" "$(cut -d' ' -f7 "$tmp/g" | median)"
done
echo "gateway_cpu_us, client_cpu_us: CPU time per span of the gateway process and of the load client"
q -c "SELECT 'stored spans: ' || count(*) || ', of them twice (same SDK span id): ' || (count(*) - count(DISTINCT (instance_id, client_span_id))) FROM prefactor.sdk_spans"

# OTLP batches of 100 spans, through the gateway and by direct SQL calls, are
# measured by bench/otlp/run.sh.
