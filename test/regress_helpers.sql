-- Helpers shared by the regression tests: \i test/regress_helpers.sql (pg_regress
-- runs psql from the repository root). They live in pg_temp, so nothing remains.

-- An error as "SQLSTATE: message", with ids masked as <id> and long messages cut.
CREATE FUNCTION pg_temp.error_text(state text, message text) RETURNS text LANGUAGE sql
	RETURN state || ': ' || left(regexp_replace(message, '[0-7][0-9a-z]{31}', '<id>', 'g'), 120);

-- Runs a statement: "ok: <rows it processed>", or its error.
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE stmt;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN 'ok: ' || n;
EXCEPTION WHEN OTHERS THEN
	RETURN pg_temp.error_text(SQLSTATE, SQLERRM);
END
$$;

-- The same, but whatever the statement did is rolled back, so every call meets the same state.
CREATE FUNCTION pg_temp.try_undone(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RAISE EXCEPTION 'undo' USING ERRCODE = 'PF999';
EXCEPTION WHEN OTHERS THEN
	IF SQLSTATE = 'PF999' THEN
		RETURN 'ok';
	END IF;
	RETURN pg_temp.error_text(SQLSTATE, SQLERRM);
END
$$;

-- Row counts of every table of the extension.
CREATE FUNCTION pg_temp.snapshot() RETURNS TABLE (t text, n bigint) LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT c.relname FROM pg_class c
			  WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1 LOOP
		t := r.relname;
		EXECUTE format('SELECT count(*) FROM prefactor.%I', r.relname) INTO n;
		RETURN NEXT;
	END LOOP;
END
$$;
