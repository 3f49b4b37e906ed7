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

-- A statement's one-value answer as text ('<null>' for NULL, ids masked as <id>),
-- or its error as error_text gives it; whatever the statement did is undone.
CREATE FUNCTION pg_temp.outcome(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	answer text;
BEGIN
	BEGIN
		EXECUTE stmt INTO answer;
		RAISE EXCEPTION '%', coalesce(answer, '<null>') USING ERRCODE = 'PF999';
	EXCEPTION WHEN SQLSTATE 'PF999' THEN
		answer := SQLERRM;
	END;
	RETURN regexp_replace(answer, '[0-7][0-9a-z]{31}', '<id>', 'g');
EXCEPTION WHEN OTHERS THEN
	RETURN pg_temp.error_text(SQLSTATE, SQLERRM);
END
$$;

-- Whether a statement about data the caller must not reach gives nothing away:
-- 'hidden' when it answers NULL, 0 or nothing, or is refused as
-- insufficient_privilege (42501) or no_data_found (P0002, which an unknown
-- account looks the same as); otherwise what it answered.
CREATE FUNCTION pg_temp.hidden(stmt text) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN a IN ('<null>', '0', '[]', '{}') OR a ~ '^(42501|P0002): ' THEN 'hidden' ELSE 'answered: ' || a END
	  FROM pg_temp.outcome(stmt) a
$$;
