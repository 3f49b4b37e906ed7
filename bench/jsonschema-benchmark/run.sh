#!/bin/bash
# jsonschema-benchmark: prefactor's jsonschema_is_valid against ajv 8 on the
# 34 real-world schemas of the shared corpus (SchemaStore-derived; every
# instance is valid), in one throwaway cluster, one core.
#
# Usage: bench/jsonschema-benchmark/run.sh [seconds per round] [rounds] [schema ...]
#        (after make install; PREFACTOR_DESTDIR as for test/run-all)
#
# For each schema folder of $PREFACTOR_SHARED/jsonschema-benchmark (default
# ../shared beside the repository) the schema goes into a one-row table and
# its instances into another, and
#   row    SELECT count(*) FILTER (WHERE jsonschema_is_valid(s.schema, d.doc)) FROM docs d, sch s
#   param  the same with the schema passed as a query parameter
#   ajv    ajv 8 (Ajv2020 for a 2020-12 $schema, Ajv otherwise; formats not
#          asserted, as in prefactor's default) over the pre-parsed
#          instances, compile excluded (ajv.mjs)
# each run whole passes for at least the given seconds per round; the table
# shows the median docs/s of the rounds, the ratios to ajv, and whether every
# instance was judged valid ("all"; otherwise valid/total, a bug).  A schema
# prefactor refuses is shown as unsupported with the error.  The last lines
# are the geometric means of the ratios over the schemas all three ran.
#
# Known disagreements: ajv 8 evaluates the siblings of "$ref" in draft-07
# schemas, which draft-07 says to ignore, so it rejects 109 code-climate
# instances that the corpus (and prefactor) judge valid; it cannot compile
# krakend (a regex ajv's unicode mode refuses) nor ui5-manifest (a second
# copy of the draft-07 meta-schema); prefactor refuses ui5-manifest's
# embedded draft-06 resource until that dialect is supported.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
shared=${PREFACTOR_SHARED:-$here/../../../shared}
corpus=$shared/jsonschema-benchmark
if [ ! -d "$corpus" ]; then
	echo "jsonschema-benchmark: skipped, no corpus at $corpus (set PREFACTOR_SHARED)"
	exit 0
fi
corpus=$(cd "$corpus" && pwd)
secs=${1:-0.3}
rounds=${2:-3}
if [ "${IN_VIRTUALENV:-}" != 1 ]; then
	# -t: a private cluster; PREFACTOR_DESTDIR: an extension installed with make install DESTDIR=...
	IN_VIRTUALENV=1 PREFACTOR_SHARED=$shared exec pg_virtualenv -t \
		${PREFACTOR_DESTDIR:+-o "extension_destdir=$(cd "$PREFACTOR_DESTDIR" && pwd)"} \
		-o 'shared_buffers=512MB' "$0" "$@"
fi
shift $(($# < 2 ? $# : 2))
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "jsonschema-benchmark: node and npm are needed for the ajv baseline (scripts/install-deps)"
	exit 1
fi
[ -d "$here/node_modules/ajv" ] || (cd "$here" && npm ci --no-audit --no-fund >/dev/null)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

export PGOPTIONS="-c client_min_messages=warning"
psql -qX -v ON_ERROR_STOP=1 -f "$here/setup.sql" >/dev/null
# median
. "$here/../lib.sh"

names=("$@")
[ ${#names[@]} -gt 0 ] || mapfile -t names < <(cd "$corpus" && for d in */; do [ -f "$d/schema.json" ] && echo "${d%/}"; done)

printf '%-24s %6s %11s %11s %11s %8s %8s  %s\n' schema docs row/s param/s ajv/s row/ajv par/ajv valid
results=$tmp/results
: >"$results"
i=0
for name in "${names[@]}"; do
	i=$((i + 1))
	dir=$corpus/$name
	jq -c . "$dir/schema.json" >"$tmp/schema.json"
	grep -v '^[[:space:]]*$' "$dir/instances.jsonl" >"$tmp/docs.jsonl"
	psql -qX -v ON_ERROR_STOP=1 >/dev/null <<-SQL
		DROP TABLE IF EXISTS jsb.s_$i, jsb.d_$i;
		CREATE TABLE jsb.s_$i (schema jsonb);
		CREATE TABLE jsb.d_$i (doc jsonb);
		\copy jsb.s_$i FROM '$tmp/schema.json' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
		\copy jsb.d_$i FROM '$tmp/docs.jsonl' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
		VACUUM ANALYZE jsb.s_$i, jsb.d_$i;
	SQL
	rowq="SELECT count(*) FILTER (WHERE prefactor.jsonschema_is_valid(s.schema, d.doc)), count(*) FROM jsb.d_$i d, jsb.s_$i s"
	parq="SELECT count(*) FILTER (WHERE prefactor.jsonschema_is_valid(\$1, d.doc)), count(*) FROM jsb.d_$i d"
	{
		for _ in $(seq 1 "$rounds"); do
			echo "SELECT 'row', * FROM jsb.rate(\$q\$$rowq\$q\$, NULL, $secs);"
			echo "SELECT 'param', * FROM jsb.rate(\$q\$$parq\$q\$, (SELECT schema::text::jsonb FROM jsb.s_$i), $secs);"
		done
	} >"$tmp/rounds.sql"
	psql -qXAt -F '|' -v ON_ERROR_STOP=1 -f "$tmp/rounds.sql" >"$tmp/pg.out"
	ajv=$(node "$here/ajv.mjs" "$dir" "$secs" "$rounds")
	ndocs=$(wc -l <"$tmp/docs.jsonl")
	err=$(awk -F'|' '$5 != "" { print $5; exit }' "$tmp/pg.out")
	row=$(awk -F'|' '$1 == "row" && $2 != "" { print $2 }' "$tmp/pg.out" | median)
	par=$(awk -F'|' '$1 == "param" && $2 != "" { print $2 }' "$tmp/pg.out" | median)
	# every pass must find every instance valid
	verdict=$(awk -F'|' -v n="$ndocs" '$2 != "" && $3 != n { bad = $1 " " $3 "/" n } END { print bad ? bad : "all" }' "$tmp/pg.out")
	read -r ajvrate ajvvalid _ <<<"$ajv"
	if [ "$ajvrate" = error ]; then
		ajvrate=""
		ajvnote="ajv: ${ajv#error }"
	else
		ajvnote=""
		[ "$ajvvalid" = "$ndocs" ] || ajvnote="ajv judged $ajvvalid/$ndocs valid"
	fi
	if [ -n "$err" ]; then
		printf '%-24s %6d %11s %11s %11s %8s %8s  %s\n' "$name" "$ndocs" unsupported unsupported \
			"${ajvrate:-error}" - - "${err:0:110}"
	else
		ratio() { [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }' || echo -; }
		printf '%-24s %6d %11.0f %11.0f %11s %8s %8s  %s\n' "$name" "$ndocs" "$row" "$par" "${ajvrate:-error}" \
			"$(ratio "$row" "$ajvrate")" "$(ratio "$par" "$ajvrate")" "$verdict${ajvnote:+; $ajvnote}"
		[ -z "$ajvrate" ] || echo "$name $row $par $ajvrate" >>"$results"
	fi
	psql -qX -c "DROP TABLE jsb.s_$i, jsb.d_$i" >/dev/null
done
awk '{ r += log($2 / $4); p += log($3 / $4); n++ }
	END { if (n) printf "geometric mean over %d schemas: row/ajv %.3f, param/ajv %.3f\n", n, exp(r / n), exp(p / n) }' "$results"
