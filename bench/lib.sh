# Helpers the benches share; sourced by their scripts.

# The median of the numbers on stdin, one per line (nothing for none).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# server_ticks <data directory>...: the CPU time, in clock ticks, of the
# servers running on these data directories: each postmaster's children alive
# now plus those it has reaped (its cutime and cstime), so that the backends
# of a bench point count after they exit. Beside throughput, which a shared
# machine's other load moves, the servers' CPU per unit of work is what a
# path costs. (/proc/<pid>/stat after the command's name: field 2 is the
# parent, 12 and 13 the process's user and system time, 14 and 15 its reaped
# children's.)
server_ticks() {
	local d pms="" reaped
	for d in "$@"; do pms="$pms $(head -1 "$d/postmaster.pid")"; done
	# shellcheck disable=SC2086
	reaped=$(for d in $pms; do sed 's/^[0-9]* (.*) //' "/proc/$d/stat"; done | awk '{ t += $14 + $15 } END { print t + 0 }')
	sed 's/^[0-9]* (.*) //' /proc/[0-9]*/stat 2>/dev/null |
		awk -v pms="$pms" -v reaped="$reaped" '
			BEGIN { n = split(pms, p, " "); for (i = 1; i <= n; i++) pm[p[i]] = 1 }
			($2 in pm) { t += $12 + $13 } END { print t + reaped }'
}

# clock ticks per second, for server_ticks
ticks_per_second=$(getconf CLK_TCK)

# wait_backends_gone <psql connection options...>: waits until the server has
# no pgbench connection left, so that server_ticks counts a point's backends.
wait_backends_gone() {
	while [ "$(psql -qXAt "$@" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'")" != 0 ]; do
		sleep 0.05
	done
}

# tps_and_cpu <ticks before> <ticks after> <pgbench output>: pgbench's tps and
# the CPU milliseconds per transaction between the two server_ticks readings.
tps_and_cpu() {
	awk -v t0="$1" -v t1="$2" -v hz="$ticks_per_second" '
		/^number of transactions actually processed/ { n = $NF }
		/^tps = / { tps = $3 }
		END { printf "%s %.3f\n", tps, (t1 - t0) * 1000 / hz / n }' <<<"$3"
}
