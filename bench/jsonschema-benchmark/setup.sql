-- bench/jsonschema-benchmark: the timing function used by run.sh.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS prefactor;
CREATE SCHEMA IF NOT EXISTS jsb;
-- Runs query q (with $1 = s) repeatedly for at least secs seconds and
-- returns docs/s, plus the valid and total counts of one pass; an error
-- (an unsupported schema) is returned as its message instead.
CREATE OR REPLACE FUNCTION jsb.rate(q text, s jsonb, secs float8,
	OUT per_s float8, OUT valid bigint, OUT total bigint, OUT err text)
LANGUAGE plpgsql AS $f$
DECLARE
	t0 timestamptz;
	n bigint := 0;
	el float8;
	detail text;
BEGIN
	BEGIN
		EXECUTE q INTO valid, total USING s;	-- warm-up: compiles the schema
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
		err := SQLSTATE || ' ' || SQLERRM || coalesce(': ' || detail, '');
		RETURN;
	END;
	t0 := clock_timestamp();
	LOOP
		EXECUTE q INTO valid, total USING s;
		n := n + total;
		el := extract(epoch FROM clock_timestamp() - t0);
		EXIT WHEN el >= secs;
	END LOOP;
	per_s := n / el;
END
$f$;
