-- Helpers of the clients_* suites (not a suite itself): \i sql/clients_helpers.sql
-- after test/regress_helpers.sql. They live in pg_temp, so nothing remains.
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
