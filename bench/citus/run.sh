#!/bin/bash
# Citus bench: the lifecycle workload (bench/lifecycle: one run = start + 20
# spans started and finished, ~1 KB payload and result each, validated and
# scored + finish) through a Citus coordinator with two workers versus a plain
# node, all on this machine, in the same run. Prints runs/s and spans/s of
# each and the median ratio citus/plain over the rounds (alternated, so that
# noise on a shared machine hits both alike); beside them the servers' CPU
# per run (the coordinator's and both workers' together, and the
# coordinator's alone, against the plain node's) and the median ratio. Then
# the relay alone, in the same rounds: the run's calls with the same arguments
# to a function that does nothing, through the coordinator and on the plain
# node, and the bound that leaves on the CPU ratio; and, first, what this
# machine charges for a system call and for waking a waiting process (hop.c).
# Usage: bench/citus/run.sh [seconds per point] [rounds] [clients...]
# (PREFACTOR_BENCH_SCRIPT=api: the run start names the account instead of its id;
# PREFACTOR_BENCH_SCRIPT=sdk: the same run through the SDK protocol by an ingest
# token, as prefactor-gateway's routes name them; sdk-account: by account, through
# prefactor_sdk_call, which Citus delegates whole to the account's worker;
# gateway: SDK span calls over HTTP through prefactor-gateway (below;
# PREFACTOR_BENCH_GATEWAY=node: with --route-by-node);
# PREFACTOR_BENCH_PROTOCOL=prepared: pgbench -M prepared on both sides, as
# drivers send calls with the extended protocol and prepared statements;
# PREFACTOR_BENCH_CALLS=1: then each call's latency at 1 client through the
# coordinator, on the account's worker and on the plain node, pgbench -r)
# (after make install; PREFACTOR_DESTDIR for an extension installed with
# DESTDIR; PREFACTOR_BENCH_PORT: the first of four ports, default 55340).
# Runs the servers as the postgres user when started as root.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-10}
rounds=${2:-3}
shift $(( $# > 2 ? 2 : $# )) || true
clients=("${@:-1 4}")
read -r -a clients <<<"${clients[*]}"
port=${PREFACTOR_BENCH_PORT:-55340}
bindir=$(pg_config --bindir)
export PATH="$bindir:$PATH"
if [ ! -f "$(pg_config --pkglibdir)/citus.so" ]; then
	echo "bench/citus: Citus is not installed (../shared/citus/build-citus.sh builds it)"; exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
	exec runuser -u postgres -- env PATH="$PATH" PREFACTOR_DESTDIR="${PREFACTOR_DESTDIR:-}" \
		PREFACTOR_BENCH_PORT="$port" PREFACTOR_BENCH_SCRIPT="${PREFACTOR_BENCH_SCRIPT:-}" \
		PREFACTOR_BENCH_PROTOCOL="${PREFACTOR_BENCH_PROTOCOL:-}" PREFACTOR_BENCH_CALLS="${PREFACTOR_BENCH_CALLS:-}" \
		PREFACTOR_BENCH_GATEWAY="${PREFACTOR_BENCH_GATEWAY:-}" \
		"$0" "$secs" "$rounds" "${clients[@]}"
fi
work=$(mktemp -d /tmp/prefactor-bench-citus.XXXXXX)
sock=$work
cleanup() {
	for d in "$work"/n*; do [ -d "$d" ] && pg_ctl -D "$d" stop -m immediate >/dev/null 2>&1; done
	rm -rf "$work"
}
trap cleanup EXIT

# node <n> <port> <citus?>
node() {
	initdb -D "$work/n$1" -A trust >/dev/null
	{
		echo "port = $2"; echo "listen_addresses = ''"; echo "unix_socket_directories = '$sock'"
		echo "shared_buffers = 256MB"; echo "max_wal_size = 4GB"; echo "synchronous_commit = off"
		[ -n "${PREFACTOR_DESTDIR:-}" ] && echo "extension_destdir = '$PREFACTOR_DESTDIR'"
		if [ "$3" = 1 ]; then
			echo "shared_preload_libraries = 'citus'"; echo "max_prepared_transactions = 100"
			echo "citus.enable_unsafe_triggers = on"; echo "citus.local_hostname = '$sock'"
			echo "citus.node_conninfo = 'sslmode=prefer'"
		fi
	} >> "$work/n$1/postgresql.conf"
	pg_ctl -D "$work/n$1" -l "$work/n$1.log" -w start >/dev/null
	if [ "$3" = 1 ]; then
		psql -qX -h "$sock" -p "$2" -d postgres -c 'CREATE EXTENSION citus' -c 'CREATE EXTENSION prefactor CASCADE'
	fi
}
plain=$port coord=$((port + 1))
node 0 "$plain" 0
node 1 "$coord" 1
node 2 $((port + 2)) 1
node 3 $((port + 3)) 1
q() { psql -qX -v ON_ERROR_STOP=1 -h "$sock" -d postgres "$@"; }
q -p "$coord" -c "SELECT citus_set_coordinator_host('$sock', $coord)" \
	-c "SELECT citus_add_node('$sock', $((port + 2)))" -c "SELECT citus_add_node('$sock', $((port + 3)))" \
	-c "SELECT count(*) FROM prefactor.distribute()" >/dev/null
for p in "$plain" "$coord"; do
	q -p "$p" -f "$here/../lifecycle/setup.sql" >/dev/null 2>&1 || q -p "$p" -f "$here/../lifecycle/setup.sql" >/dev/null
done
"$here/../lifecycle/gen-scripts.sh" "$work"
# the run start names the account by id (prefactor_start_run(pfid, ...)): on
# Citus it is delegated whole to the account's worker, as the span calls are;
# PREFACTOR_BENCH_SCRIPT=api names it by name instead (run start on the coordinator)
script=${PREFACTOR_BENCH_SCRIPT:-api-account-id}
acct() { q -p "$1" -Atc "SELECT account_id FROM prefactor.accounts WHERE name = 'bench'"; }
declare -A account=(["$plain"]=$(acct "$plain") ["$coord"]=$(acct "$coord"))
tok() { q -p "$1" -Atc "SELECT prefactor.prefactor_create_ingest_token('bench', 'bench-bot', 'production')"; }
declare -A token=(["$plain"]=$(tok "$plain") ["$coord"]=$(tok "$coord"))
# median, server_ticks, wait_backends_gone, tps_and_cpu
. "$here/../lib.sh"

# PREFACTOR_BENCH_SCRIPT=gateway: SDK span calls (create_span + finish_span,
# ~0.7 KB payload and result) over HTTP through prefactor-gateway
# (bench/gateway/load.c), one gateway on the plain node and one on the
# coordinator, as a least-privilege ingest role; PREFACTOR_BENCH_GATEWAY=node
# starts the coordinator's with --route-by-node (each account's calls to its
# node, no relay through the coordinator)
if [ "$script" = gateway ]; then
	gw=${PREFACTOR_DESTDIR:-}$bindir/prefactor-gateway
	[ -x "$gw" ] || gw=$here/../../src/gateway/prefactor-gateway
	cc -O2 -Wall -pthread -o "$work/load" "$here/../gateway/load.c"
	schema='{"external_identifier": "bench-gw", "span_type_schemas": [{"name": "llm", "params_schema": {"type": "object", "required": ["inputs"], "properties": {"inputs": {"type": "object", "required": ["model"]}}}, "data_risk": {"action_profile": {"read_data": "allowed"}, "params_data_categories": {"classification": "internal"}}}]}'
	declare -A gwport gwruns gwpid
	for p in "$plain" "$coord"; do
		q -p "$p" -c "CREATE ROLE bench_gw LOGIN" -c "SELECT prefactor.prefactor_grant_access('bench', 'bench_gw', 'ingest')" >/dev/null
		route=()
		[ "$p" = "$coord" ] && [ "${PREFACTOR_BENCH_GATEWAY:-coordinator}" = node ] && route=(--route-by-node)
		gwport[$p]=$((port + 10 + p - plain))
		"$gw" --port "${gwport[$p]}" --pool-size 8 --no-access-log "${route[@]}" \
			--db "host=$sock port=$p dbname=postgres user=bench_gw" 2> "$work/gateway-$p.log" &
		gwpid[$p]=$!
		for n in 1 2 3 4 5 6 7 8; do
			id=$(q -p "$p" -Atc "SELECT (prefactor.prefactor_sdk_register('${token[$p]}', jsonb_build_object('agent_version', '{\"external_identifier\": \"v1\"}'::jsonb, 'agent_schema_version', '$schema'::jsonb))).body->'details'->>'id'")
			q -p "$p" -Atc "SELECT (prefactor.prefactor_sdk_start('${token[$p]}', '$id', '{}')).http_status" >/dev/null
			gwruns[$p]+="$id "
		done
		for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:${gwport[$p]}/healthz" && break; sleep 0.1; done
	done
	trap 'kill -TERM ${gwpid[*]} 2>/dev/null; wait; cleanup' EXIT
	load() {
		# shellcheck disable=SC2086
		"$work/load" "${gwport[$1]}" "${token[$1]}" "$3" "$2" ${gwruns[$1]} |
			command node -e 'const o = JSON.parse(require("fs").readFileSync(0, "utf8")); if (o.errors) { console.error(`${o.errors} calls failed`); process.exit(1); } console.log(o.spans_per_s)'
	}
	for p in "$plain" "$coord"; do load "$p" 2 2 >/dev/null; done
	echo "gateway on the coordinator: ${PREFACTOR_BENCH_GATEWAY:-coordinator} routing; span = create_span + finish_span"
	printf '%-8s %16s %16s %8s   %s\n' clients citus_spans/s plain_spans/s ratio "ratios of the $rounds rounds"
	for c in "${clients[@]}"; do
		cs=() ps=() rs=()
		for _ in $(seq 1 "$rounds"); do
			pl=$(load "$plain" "$secs" "$c"); ci=$(load "$coord" "$secs" "$c")
			ps+=("$pl") cs+=("$ci") rs+=("$(awk -v a="$ci" -v b="$pl" 'BEGIN { printf "%.2f", a / b }')")
		done
		printf '%-8s %16.1f %16.1f %8.2f   %s\n' "$c" "$(printf '%s\n' "${cs[@]}" | median)" \
			"$(printf '%s\n' "${ps[@]}" | median)" "$(printf '%s\n' "${rs[@]}" | median)" "${rs[*]}"
	done
	exit 0
fi
# the relay alone (relay.pgbench): the run's 42 calls, same arguments, to a
# function that does nothing, delegated as the span calls are
for p in "$plain" "$coord"; do
	q -p "$p" -c "CREATE FUNCTION bench_relay_noop(account prefactor.pfid, name text, body jsonb) RETURNS integer
		LANGUAGE plpgsql AS \$\$BEGIN RETURN 1; END\$\$" >/dev/null
done
q -p "$coord" -c "SELECT create_distributed_function('bench_relay_noop(prefactor.pfid, text, jsonb)', 'account',
	colocate_with => 'prefactor.instances')" >/dev/null
relay=relay
protocol=${PREFACTOR_BENCH_PROTOCOL:-simple}
# with the extended protocol the ids are parameters ($1), not text in quotes
if [ "$protocol" != simple ]; then
	for s in "$script" "$relay"; do
		sed "s/':\([a-z]*\)'/:\1/g" "$work/$s.pgbench" > "$work/$s-$protocol.pgbench"
	done
	script=$script-$protocol relay=$relay-$protocol
fi
# bench <port> <seconds> <clients> [script, default the workload's]
bench() { pgbench -n -M "$protocol" -h "$sock" -p "$1" -T "$2" -c "$3" -j "$3" -D acct="${account[$1]}" -D tok="${token[$1]}" -f "$work/${4:-$script}.pgbench" postgres 2>/dev/null; }
# point <port> <seconds> <clients> [script]: runs/s and the servers' CPU ms per
# run: the plain node's, or the coordinator's and both workers' together, then
# the coordinator's alone
point() {
	local c0=0 c1=0 t0 out tps cpu
	local dirs=("$work/n0")
	[ "$1" = "$coord" ] && dirs=("$work/n1" "$work/n2" "$work/n3") && c0=$(server_ticks "$work/n1")
	t0=$(server_ticks "${dirs[@]}")
	out=$(bench "$@")
	wait_backends_gone -h "$sock" -d postgres -p "$1"
	[ "$1" = "$coord" ] && c1=$(server_ticks "$work/n1")
	read -r tps cpu <<<"$(tps_and_cpu "$t0" "$(server_ticks "${dirs[@]}")" "$out")"
	echo "$tps $cpu $(tps_and_cpu "$c0" "$c1" "$out" | cut -d' ' -f2)"
}
# warm up: versions exist, caches filled, statistics
for p in "$plain" "$coord"; do bench "$p" 3 1 >/dev/null; bench "$p" 1 1 "$relay" >/dev/null; q -p "$p" -c ANALYZE; done

# what this machine charges for a system call and for waking a waiting
# process, which every hop of the relay pays (bench/citus/hop.c)
cc -O2 -Wall -o "$work/hop" "$here/hop.c"
echo "this machine: $("$work/hop")"

# beside runs/s, the servers' CPU per run (ms): on Citus the coordinator's and
# both workers' together (of which the coordinator's, coord_cpu); cpu_ratio
# is plain/citus of those, round by round
printf '%-8s %12s %12s %14s %14s %8s %10s %10s %10s %9s   %s\n' clients citus_runs/s plain_runs/s citus_spans/s plain_spans/s ratio \
	citus_cpu coord_cpu plain_cpu cpu_ratio "ratios of the $rounds rounds"
declare -A relay_line
for c in "${clients[@]}"; do
	cs=() ps=() rs=() ccpu=() kcpu=() pcpu=() crs=() rcs=() rcc=() rpc=() bounds=()
	for _ in $(seq 1 "$rounds"); do
		read -r pl plc _ <<<"$(point "$plain" "$secs" "$c")"
		read -r ci cic cik <<<"$(point "$coord" "$secs" "$c")"
		read -r _ rp _ <<<"$(point "$plain" "$secs" "$c" "$relay")"
		read -r rc rcp _ <<<"$(point "$coord" "$secs" "$c" "$relay")"
		rcs+=("$rc") rcc+=("$rcp") rpc+=("$rp")
		bounds+=("$(awk -v p="$plc" -v rc="$rcp" -v rp="$rp" 'BEGIN { printf "%.2f", p / (p + rc - rp) }')")
		ps+=("$pl") cs+=("$ci") rs+=("$(awk -v a="$ci" -v b="$pl" 'BEGIN { printf "%.2f", a / b }')")
		pcpu+=("$plc") ccpu+=("$cic") kcpu+=("$cik") crs+=("$(awk -v a="$cic" -v b="$plc" 'BEGIN { printf "%.2f", b / a }')")
	done
	cm=$(printf '%s\n' "${cs[@]}" | median); pm=$(printf '%s\n' "${ps[@]}" | median)
	printf '%-8s %12.1f %12.1f %14.0f %14.0f %8.2f %10.3f %10.3f %10.3f %9.2f   %s\n' "$c" "$cm" "$pm" \
		"$(awk -v r="$cm" 'BEGIN { print r * 20 }')" "$(awk -v r="$pm" 'BEGIN { print r * 20 }')" \
		"$(printf '%s\n' "${rs[@]}" | median)" "$(printf '%s\n' "${ccpu[@]}" | median)" \
		"$(printf '%s\n' "${kcpu[@]}" | median)" "$(printf '%s\n' "${pcpu[@]}" | median)" \
		"$(printf '%s\n' "${crs[@]}" | median)" "${rs[*]}"
	relay_line[$c]=$(printf '%-8s %16.1f %16.3f %16.3f %8.2f   %s' "$c" "$(printf '%s\n' "${rcs[@]}" | median)" \
		"$(printf '%s\n' "${rcc[@]}" | median)" "$(printf '%s\n' "${rpc[@]}" | median)" \
		"$(printf '%s\n' "${bounds[@]}" | median)" "${bounds[*]}")
done
# the relay alone, measured in the same rounds: relay_runs/s is what the
# coordinator relays of runs whose calls do nothing; bound is the CPU ratio
# Citus would reach if prefactor's work on the worker cost what it costs on the
# plain node: plain_cpu / (plain_cpu + relay_citus_cpu - relay_plain_cpu)
printf '\nthe relay alone: the run'"'"'s 42 calls, same arguments, to a function that does nothing\n'
printf '%-8s %16s %16s %16s %8s   %s\n' clients relay_runs/s relay_citus_cpu relay_plain_cpu bound "bounds of the $rounds rounds"
for c in "${clients[@]}"; do echo "${relay_line[$c]}"; done

[ -n "${PREFACTOR_BENCH_CALLS:-}" ] || exit 0
# each call's latency (ms) at 1 client: the script's statements are the run
# start, 20 times span start and finish, and the run finish
worker=$(q -p "$coord" -Atc "SELECT nodeport FROM pg_dist_shard_placement WHERE shardid =
	get_shard_id_for_distribution_column('prefactor.instances', '${account[$coord]}'::prefactor.pfid)")
account[$worker]=${account[$coord]} token[$worker]=${token[$coord]}
calls() {
	pgbench -n -M "$protocol" -r -h "$sock" -p "$1" -T "$secs" -c 1 -j 1 -D acct="${account[$1]}" -D tok="${token[$1]}" -f "$work/$script.pgbench" postgres 2>/dev/null |
		awk '/^ *[0-9.]+ +[0-9]+ +(SELECT|INSERT|UPDATE)/ { n++; if (n == 1) rs = $1; else if (n == 42) rf = $1;
			else if (n % 2 == 0) { ss += $1; ns++ } else { sf += $1; nf++ } }
			/^tps/ { tps = $3 } END { printf "%.3f %.3f %.3f %.3f %.1f\n", rs, ss / ns, sf / nf, rf, tps }'
}
declare -A lat
for _ in $(seq 1 "$rounds"); do
	for p in "$coord" "$worker" "$plain"; do lat[$p]+="$(calls "$p")"$'\n'; done
done
printf '\n%-28s %12s %12s %12s %12s %8s\n' "ms per call, 1 client" "run start" "span start" "span finish" "run finish" runs/s
for p in "$coord" "$worker" "$plain"; do
	name=$([ "$p" = "$coord" ] && echo "through the coordinator" || { [ "$p" = "$worker" ] && echo "on the account's worker" || echo "plain node"; })
	printf '%-28s' "$name"
	for f in 1 2 3 4; do printf ' %12.3f' "$(printf '%s' "${lat[$p]}" | awk -v f="$f" 'NF { print $f }' | median)"; done
	printf ' %8.1f\n' "$(printf '%s' "${lat[$p]}" | awk 'NF { print $5 }' | median)"
done
