-- Records a run as an application should connect: as a login role with least privilege, granted
-- only `ingest` in one account (not a superuser, not an admin), with a password, on a connection of
-- its own. Then reads the run back through what ingest may read, and shows what it may not do.
-- Run as a superuser: psql -v ON_ERROR_STOP=1 -f examples/psql/least_privilege.sql
-- (makes the accounts "example-ingest" and "example-other" and the login role example_ingest, whose
-- password is $PGPASSWORD when set; the connection uses the usual PG* variables).
\set ON_ERROR_STOP 1
\set QUIET 1
\pset tuples_only on
\pset format unaligned
SET client_min_messages = warning;
SET search_path = prefactor, public;

-- Set-up, as a superuser (creating accounts and roles is theirs; an account's admin could do the rest).
SELECT prefactor_create_account('example-ingest') IS NOT NULL AS created \gset
SELECT prefactor_create_environment('example-ingest', 'production') IS NOT NULL AS created \gset
SELECT prefactor_register_agent('example-ingest', 'faq-bot', 'Answers product questions') IS NOT NULL AS created \gset
-- A second account with a run of its own: the ingest role must neither see nor touch it.
SELECT prefactor_create_account('example-other') IS NOT NULL AS created \gset
SELECT prefactor_create_environment('example-other', 'production') IS NOT NULL AS created \gset
SELECT prefactor_register_agent('example-other', 'faq-bot') IS NOT NULL AS created \gset
SELECT prefactor_start_run('example-other', 'faq-bot', 'production', '{"external_identifier": "v1"}',
	'{"span_type_schemas": [{"name": "llm"}]}') AS other_run \gset

-- The login role: a password (the one in PGPASSWORD, so that this script can connect with it), and
-- the ingest level in one account, through prefactor_grant_access.
\getenv pw PGPASSWORD
SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'example_ingest') AS role_exists \gset
\if :role_exists
ALTER ROLE example_ingest LOGIN NOSUPERUSER PASSWORD :'pw';
\else
CREATE ROLE example_ingest LOGIN PASSWORD :'pw';
\endif
SELECT prefactor_grant_access('example-ingest', 'example_ingest', 'ingest') \gset

-- A fresh connection as that role (the password comes from PGPASSWORD, as for any libpq client).
\connect - example_ingest
SET search_path = prefactor, public;
-- Fails the script (psql exits non-zero) unless the check holds; NULL (no row) fails too.
CREATE FUNCTION pg_temp.check(ok boolean, what text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	IF ok IS NOT TRUE THEN
		RAISE EXCEPTION 'not ok - %', what;
	END IF;
	RETURN 'ok - ' || what;
END
$$;
SELECT pg_temp.check((SELECT current_user = 'example_ingest' AND NOT rolsuper AND NOT rolcreaterole
		FROM pg_roles WHERE rolname = current_user), 'connected as example_ingest, not a superuser');
SELECT pg_temp.check((SELECT array_agg(level::text) = '{ingest}' FROM account_members), 'its one membership: ingest');

-- A whole run: start (version and schema created on first sight), nested spans, finish.
SELECT prefactor_start_run('example-ingest', 'faq-bot', 'production',
	'{"external_identifier": "v1.0.0"}',
	'{"external_identifier": "faq-1", "span_type_schemas": [
		{"name": "faq:answer", "params_schema": {"type": "object", "required": ["question"]}},
		{"name": "tool:search", "params_schema": {"type": "object", "required": ["query"]}},
		{"name": "llm", "params_schema": {"type": "object", "required": ["model"]}}]}',
	idempotency_key => 'least-privilege-run-1') AS run \gset
SELECT span_id AS root FROM prefactor_start_span(:'run', 'faq:answer', '{"question": "Offline?"}') \gset
-- "q" where the schema declares "query": a schema mismatch, recorded, not rejected
SELECT terminate FROM prefactor_record_span(:'run', 'tool:search', '{"q": "offline"}', '{"hits": 2}',
	parent_span => :'root') \gset
SELECT terminate FROM prefactor_record_span(:'run', 'llm', '{"model": "small-1"}', '{"output": "Yes."}',
	parent_span => :'root') \gset
SELECT terminate FROM prefactor_finish_span(:'root', 'complete', '{"answer": "Yes."}') \gset
SELECT pg_temp.check(prefactor_finish_run(:'run', 'complete') = 'complete', 'the run is finished by the ingest role');

-- Read back what ingest may read: its account's views, timeline and tables.
SELECT pg_temp.check((SELECT status = 'complete' AND version = 'v1.0.0' AND spans = 3 AND schema_mismatches = 1
		FROM instance_summary WHERE instance_id = :'run'), 'instance_summary: complete, 3 spans, 1 mismatch');
SELECT pg_temp.check(array_agg(path ORDER BY ordinal) = '{faq:answer,"faq:answer > tool:search","faq:answer > llm"}',
		'timeline: the answer over the search and the model call')
  FROM prefactor_span_timeline(:'run');
SELECT pg_temp.check((SELECT count(*) = 3 AND count(*) FILTER (WHERE payload_conforms IS FALSE) = 1
		FROM spans WHERE instance_id = :'run'), 'spans: 3 rows, the search flagged');

-- And only that: the other account is invisible, and admin work and other accounts are refused.
SELECT pg_temp.check((SELECT array_agg(name) = '{example-ingest}' FROM accounts), 'sees its own account only');
SELECT pg_temp.check((SELECT count(*) = 0 FROM instances WHERE id = :'other_run'), 'does not see the other account''s run');
\set VERBOSITY terse
\echo '# three refusals follow (each error is expected)'
\set ON_ERROR_STOP 0
SELECT prefactor_start_run('example-other', 'faq-bot', 'production', NULL, NULL);
\set ON_ERROR_STOP 1
SELECT pg_temp.check(:'LAST_ERROR_SQLSTATE' = '42501', 'may not start a run in another account (42501)');
\set ON_ERROR_STOP 0
SELECT prefactor_create_environment('example-ingest', 'staging');
\set ON_ERROR_STOP 1
SELECT pg_temp.check(:'LAST_ERROR_SQLSTATE' = '42501', 'may not do admin work in its own account (42501)');
\set ON_ERROR_STOP 0
DELETE FROM spans WHERE instance_id = :'run';
\set ON_ERROR_STOP 1
SELECT pg_temp.check(:'LAST_ERROR_SQLSTATE' = '42501', 'may not delete recorded spans (42501)');
