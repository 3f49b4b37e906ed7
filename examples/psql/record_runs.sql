-- Records a run through prefactor's SQL API from psql, the way an application would, then checks
-- what the views show. Run: psql -v ON_ERROR_STOP=1 -f examples/psql/record_runs.sql
-- (the account "example-psql" is created; run it against a database with the extension).
\set ON_ERROR_STOP 1
\set QUIET 1
SET search_path = prefactor, public;

-- Fails the script (psql exits non-zero) unless the check holds.
CREATE FUNCTION pg_temp.check(ok boolean, what text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	IF ok IS NOT TRUE THEN
		RAISE EXCEPTION 'not ok - %', what;
	END IF;
	RETURN 'ok - ' || what;
END
$$;
\pset tuples_only on
\pset format unaligned
\pset fieldsep '\n'

-- Set-up, once per account.
SELECT prefactor_create_account('example-psql') IS NOT NULL AS created \gset
SELECT prefactor_create_environment('example-psql', 'production') IS NOT NULL AS created \gset
SELECT prefactor_register_agent('example-psql', 'faq-bot', 'Answers product questions') IS NOT NULL AS created \gset

-- Start a run with its version and activity schema (created on first sight).
SELECT prefactor_start_run('example-psql', 'faq-bot', 'production',
	'{"external_identifier": "v1.0.0", "name": "FAQ bot"}',
	'{"external_identifier": "faq-1", "span_type_schemas": [
		{"name": "faq:answer", "params_schema": {"type": "object", "required": ["question"]}},
		{"name": "llm", "params_schema": {"type": "object", "required": ["model", "messages"]},
		 "result_schema": {"type": "object", "required": ["output"]}},
		{"name": "tool:search", "params_schema": {"type": "object", "required": ["query"], "additionalProperties": false},
		 "data_risk": {"action_profile": {"external_communication": "allowed"},
					   "params_data_categories": {"classification": "public"}}}]}',
	idempotency_key => 'psql-run-1') AS run \gset

-- Nested spans: a business-level answer over a search (deliberately sending "q" instead of the
-- declared "query": a schema mismatch) and a model call.
SELECT span_id AS root FROM prefactor_start_span(:'run', 'faq:answer', '{"question": "Does it run offline?"}') \gset
SELECT terminate FROM prefactor_record_span(:'run', 'tool:search', '{"q": "offline mode"}', '{"hits": 2}',
	parent_span => :'root', idempotency_key => 'psql-span-search') \gset
SELECT terminate FROM prefactor_record_span(:'run', 'llm',
	'{"model": "small-1", "messages": [{"role": "user", "content": "Does it run offline?"}]}',
	'{"output": "Yes, after the first sync."}', parent_span => :'root') \gset
SELECT terminate FROM prefactor_finish_span(:'root', 'complete', '{"answer": "Yes, after the first sync."}') \gset
SELECT prefactor_finish_run(:'run', 'complete', idempotency_key => 'psql-finish-1') AS status \gset
-- A retry with the same key gets the first answer.
SELECT pg_temp.check(prefactor_finish_run(:'run', 'complete', idempotency_key => 'psql-finish-1') = 'complete',
	'finish_run retried with its idempotency key');

-- What the views show. Each check reads its row through a scalar subquery: no row gives NULL,
-- which fails the check (as a filter that matched nothing must).
SELECT pg_temp.check((SELECT status = 'complete' AND version = 'v1.0.0' AND schema_version = 1 AND environment = 'production'
		FROM instance_summary WHERE instance_id = :'run'),
		'instance_summary: complete, v1.0.0, schema version 1, production');
SELECT pg_temp.check((SELECT spans = 3 AND spans_complete = 3 FROM instance_summary WHERE instance_id = :'run'),
		'instance_summary: 3 complete spans');
SELECT pg_temp.check((SELECT schema_mismatches = 1 FROM instance_summary WHERE instance_id = :'run'),
		'instance_summary: 1 schema mismatch');
-- aggregates over no row give NULL, which fails too
SELECT pg_temp.check(array_agg(depth ORDER BY ordinal) = '{0,1,1}', 'timeline: a root and two children'),
	   pg_temp.check(bool_or(path = 'faq:answer > tool:search' AND conformance = 'mismatch'),
		'timeline: the search under the answer is a mismatch')
  FROM prefactor_span_timeline(:'run');
SELECT pg_temp.check((SELECT mismatches = 1 AND spans = 1 FROM schema_conformance
		WHERE agent = 'faq-bot' AND span_type = 'tool:search' AND account_id = resolve_account('example-psql')),
		'schema_conformance: tool:search 1 of 1 mismatched');
SELECT pg_temp.check((SELECT runs = 1 AND schema_identifier = 'faq-1' FROM version_history
		WHERE version = 'v1.0.0' AND account_id = resolve_account('example-psql')),
		'version_history: v1.0.0 paired with faq-1, 1 run');
