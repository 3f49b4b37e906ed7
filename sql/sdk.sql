-- The SDK protocol functions (issue 15), played as @prefactor/core 0.2.9 sends
-- its calls, by a login role with ingest access, as a gateway would call them.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
DROP ROLE IF EXISTS regress_sdk_ingest, regress_sdk_other;
CREATE EXTENSION prefactor;
RESET client_min_messages;
\set VERBOSITY terse
\set SHOW_CONTEXT never
SELECT current_user AS superuser \gset
\set pw 'regress_sdk_unused'
\getenv pw PGPASSWORD
CREATE ROLE regress_sdk_ingest LOGIN PASSWORD :'pw';
CREATE ROLE regress_sdk_other LOGIN PASSWORD :'pw';

-- Set-up: two accounts; agent bot in prod (with a second environment and
-- agent); regress_sdk_ingest may ingest into acme only.
SELECT prefactor.prefactor_create_account('acme') IS NOT NULL AS acme,
	   prefactor.prefactor_create_account('globex') IS NOT NULL AS globex;
SELECT prefactor.prefactor_create_environment('acme', 'prod') IS NOT NULL AS env,
	   prefactor.prefactor_create_environment('acme', 'dev') IS NOT NULL AS env2,
	   prefactor.prefactor_register_agent('acme', 'bot') IS NOT NULL AS agent,
	   prefactor.prefactor_register_agent('acme', 'bot2') IS NOT NULL AS agent2,
	   prefactor.prefactor_create_environment('globex', 'prod') IS NOT NULL AS genv,
	   prefactor.prefactor_register_agent('globex', 'bot') IS NOT NULL AS gagent;
SELECT prefactor.prefactor_grant_access('acme', 'regress_sdk_ingest', 'ingest');
SELECT prefactor.prefactor_grant_access('globex', 'regress_sdk_other', 'ingest');
SELECT prefactor.prefactor_create_ingest_token('acme', 'bot', 'prod') AS tok \gset
SELECT prefactor.prefactor_create_ingest_token('acme', 'bot', 'dev') AS tok_dev \gset
SELECT prefactor.prefactor_create_ingest_token('acme', 'bot2', 'prod') AS tok_bot2 \gset
SELECT prefactor.prefactor_create_ingest_token('acme', 'bot', 'prod') AS tok_revoked \gset
SELECT prefactor.prefactor_revoke_ingest_token(split_part(:'tok_revoked', '_', 2)::prefactor.pfid);
SELECT prefactor.prefactor_create_ingest_token('globex', 'bot', 'prod') AS tok_globex \gset

-- The SDK's schema: a declared llm type whose payload needs inputs and whose
-- result needs text; agent is declared permissively.
\set schema '{"external_identifier": "s1", "span_type_schemas": [{"name": "agent", "params_schema": {"type": "object"}}, {"name": "llm", "params_schema": {"type": "object", "required": ["inputs"]}, "result_schema": {"type": "object", "required": ["text"]}}]}'
\set version '{"external_identifier": "v1.0.0", "name": "Agent", "description": ""}'

-- another account's run and span
SELECT prefactor.prefactor_start_run('globex', 'bot', 'prod', :'version', :'schema') AS grun \gset
SELECT (prefactor.prefactor_start_span(:'grun', 'agent')).span_id AS gspan \gset

\c - regress_sdk_ingest
\set VERBOSITY terse
\set SHOW_CONTEXT never
\i test/regress_helpers.sql
-- What a call answered, with ids and times masked.
CREATE FUNCTION pg_temp.show(a prefactor.sdk_answer) RETURNS text LANGUAGE sql
	RETURN a.http_status || ' ' || (a.body->>'status')
		|| coalesce(' code=' || (a.body->>'code'), '')
		|| coalesce(' details.status=' || (a.body->'details'->>'status'), '')
		|| coalesce(' control=' || (a.body->'control')::text, '')
		|| coalesce(' message=' || regexp_replace(a.body->>'message', '[0-7][0-9a-z]{31}', '<id>', 'g'), '');

------------------------------------------------------------------------------
-- register -> start -> create span (agent, active) -> child spans sent at
-- their end -> finish span -> finish
------------------------------------------------------------------------------
SELECT (prefactor.prefactor_sdk_register(:'tok', jsonb_build_object('agent_version', :'version'::jsonb,
		'agent_schema_version', :'schema'::jsonb))).body->'details'->>'id' AS run \gset
SELECT status, started_at IS NULL AS not_started FROM prefactor.instances WHERE id = :'run';
SELECT pg_temp.show(prefactor.prefactor_sdk_start(:'tok', :'run', '{"timestamp": "2026-01-01T10:00:00Z"}'));
-- a retry of the start whose answer was lost: the same answer
SELECT pg_temp.show(prefactor.prefactor_sdk_start(:'tok', :'run', '{"timestamp": "2026-01-01T10:00:00Z"}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_start(:'tok', :'run', '{}'));
-- a start at another time is a conflict
SELECT pg_temp.show(prefactor.prefactor_sdk_start(:'tok', :'run', '{"timestamp": "2026-01-01T10:00:05Z"}'));
SELECT status, started_at FROM prefactor.instances WHERE id = :'run';

\set agent_span_body '{"agent_instance_id": ":run", "schema_name": "agent", "status": "active", "payload": {"span_id": "c-agent", "trace_id": "t-1", "name": "agent", "status": "active", "inputs": {"q": "hi"}, "outputs": null, "metadata": {}, "token_usage": null, "error": null}, "parent_span_id": null, "started_at": "2026-01-01T10:00:01Z", "finished_at": null}'
SELECT (prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details',
		replace(:'agent_span_body', ':run', :'run')::jsonb))).body->'details'->>'id' AS agent_span \gset
-- a retry of the create (no idempotency key): the same span, nothing stored twice
SELECT (prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details',
		replace(:'agent_span_body', ':run', :'run')::jsonb))).body->'details'->>'id' = :'agent_span' AS same_span;
SELECT count(*) AS spans FROM prefactor.spans WHERE instance_id = :'run';

-- a child llm span, sent once at its end, complete with its outputs
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run', 'schema_name', 'llm', 'status', 'complete',
	'payload', '{"span_id": "c-llm1", "trace_id": "t-1", "name": "llm", "status": "complete", "inputs": {"p": 1}, "outputs": {"text": "ok"}, "token_usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}, "error": null}'::jsonb,
	'result_payload', '{"text": "ok"}'::jsonb, 'parent_span_id', :'agent_span',
	'started_at', '2026-01-01T10:00:02Z', 'finished_at', '2026-01-01T10:00:03Z'))));
-- the SDK then finishes the span it created complete: the harmless conflict
SELECT s.id AS llm1 FROM prefactor.spans s JOIN prefactor.sdk_spans k USING (account_id, id)
 WHERE k.client_span_id = 'c-llm1' \gset
SELECT pg_temp.show(prefactor.prefactor_sdk_finish_span(:'tok', :'llm1', '{"status": "complete", "timestamp": "2026-01-01T10:00:03Z"}'));
-- a nested tool span under the llm span, undeclared
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run', 'schema_name', 'tool:search', 'status', 'complete',
	'payload', '{"span_id": "c-tool", "trace_id": "t-1", "name": "search", "status": "complete", "inputs": {}}'::jsonb,
	'result_payload', '{}'::jsonb, 'parent_span_id', :'llm1',
	'started_at', '2026-01-01T10:00:02.5Z', 'finished_at', '2026-01-01T10:00:02.8Z'))));
-- an llm span whose result mismatches its result_schema
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run', 'schema_name', 'llm', 'status', 'complete',
	'payload', '{"span_id": "c-llm2", "trace_id": "t-1", "inputs": {}}'::jsonb,
	'result_payload', '{"no_text": true}'::jsonb, 'parent_span_id', :'agent_span',
	'started_at', '2026-01-01T10:00:04Z', 'finished_at', '2026-01-01T10:00:05Z'))));
-- a failed llm span: its result is the SDK's error object, kept as the error
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run', 'schema_name', 'llm', 'status', 'failed',
	'payload', '{"span_id": "c-llm3", "trace_id": "t-1", "inputs": {}, "error": {"error_type": "TimeoutError", "message": "timed out", "stacktrace": "at x"}}'::jsonb,
	'result_payload', '{"error_type": "TimeoutError", "message": "timed out", "stacktrace": "at x"}'::jsonb,
	'parent_span_id', :'agent_span', 'started_at', '2026-01-01T10:00:06Z', 'finished_at', '2026-01-01T10:00:07Z'))));
-- the agent span is finished with /finish, then again (retry): the conflict
SELECT pg_temp.show(prefactor.prefactor_sdk_finish_span(:'tok', :'agent_span', '{"status": "complete", "result_payload": {"answer": 42}, "timestamp": "2026-01-01T10:00:08Z"}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_finish_span(:'tok', :'agent_span', '{"status": "complete", "result_payload": {"answer": 42}, "timestamp": "2026-01-01T10:00:08Z"}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_finish(:'tok', :'run', '{"status": "complete", "timestamp": "2026-01-01T10:00:09Z"}'));
-- a retry of the finish: the conflict the SDK treats as success
SELECT pg_temp.show(prefactor.prefactor_sdk_finish(:'tok', :'run', '{"status": "complete", "timestamp": "2026-01-01T10:00:09Z"}'));

-- what was stored: one row per span sent, nested, statuses and conformance
SELECT t.depth, t.path, t.status, t.conformance, k.client_span_id, k.trace_id, k.error->>'error_type' AS error,
	   s.result IS NULL AS no_result
  FROM prefactor.prefactor_span_timeline(:'run') t
  JOIN prefactor.spans s ON s.id = t.span_id
  JOIN prefactor.sdk_spans k ON k.account_id = s.account_id AND k.id = s.id
 ORDER BY t.ordinal;
SELECT status, started_at, finished_at, spans, schema_mismatches, undeclared_spans
  FROM prefactor.instance_summary WHERE instance_id = :'run';
-- the run's start is not after its first span's
SELECT i.started_at <= min(s.started_at) AS start_first FROM prefactor.instances i
  JOIN prefactor.spans s ON s.account_id = i.account_id AND s.instance_id = i.id
 WHERE i.id = :'run' GROUP BY i.started_at;

------------------------------------------------------------------------------
-- The older schema form (span_schemas / span_result_schemas, the LangChain
-- integration's default) becomes span types.
------------------------------------------------------------------------------
SELECT (prefactor.prefactor_sdk_register(:'tok', '{"agent_version": {"external_identifier": "v2"}, "agent_schema_version": {"external_identifier": "langchain-schema", "span_schemas": {"langchain:llm": {"type": "object", "additionalProperties": true}, "langchain:tool": {"type": "object"}}, "span_result_schemas": {"langchain:llm": {"type": "object", "additionalProperties": true}}}}')).body->'details'->>'id' AS run2 \gset
SELECT st.name, st.params_schema, st.result_schema
  FROM prefactor.instances i JOIN prefactor.span_types st ON st.account_id = i.account_id AND st.schema_version_id = i.schema_version_id
 WHERE i.id = :'run2' ORDER BY st.name;
SELECT pg_temp.show(prefactor.prefactor_sdk_start(:'tok', :'run2', '{}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run2', 'schema_name', 'langchain:llm', 'status', 'complete',
	'payload', '{"span_id": "l-1", "trace_id": "t-2"}'::jsonb, 'result_payload', '{"x": 1}'::jsonb))));
SELECT t.span_type, t.conformance FROM prefactor.prefactor_span_timeline(:'run2') t;
-- a span map not an object, a result map naming an undeclared type
SELECT pg_temp.show(prefactor.prefactor_sdk_register(:'tok', '{"agent_schema_version": {"external_identifier": "x", "span_schemas": []}}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_register(:'tok', '{"agent_schema_version": {"external_identifier": "x", "span_schemas": {"a": {}}, "span_result_schemas": {"b": {}}}}'));

------------------------------------------------------------------------------
-- Spans after a termination: counted, visible, answered with the signal.
------------------------------------------------------------------------------
\c - :superuser
SELECT prefactor.prefactor_terminate_run(:'run2', 'risk too high');
\c - regress_sdk_ingest
\set VERBOSITY terse
\set SHOW_CONTEXT never
CREATE FUNCTION pg_temp.show(a prefactor.sdk_answer) RETURNS text LANGUAGE sql
	RETURN a.http_status || ' ' || (a.body->>'status')
		|| coalesce(' code=' || (a.body->>'code'), '')
		|| coalesce(' details.status=' || (a.body->'details'->>'status'), '')
		|| coalesce(' control=' || (a.body->'control')::text, '')
		|| coalesce(' message=' || regexp_replace(a.body->>'message', '[0-7][0-9a-z]{31}', '<id>', 'g'), '');
SELECT id AS l1 FROM prefactor.sdk_spans WHERE client_span_id = 'l-1' \gset
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run2', 'schema_name', 'langchain:tool', 'status', 'complete',
	'payload', '{"span_id": "l-2", "trace_id": "t-2"}'::jsonb))));
-- its retry is counted once
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run2', 'schema_name', 'langchain:tool', 'status', 'complete',
	'payload', '{"span_id": "l-2", "trace_id": "t-2"}'::jsonb))));
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run2', 'schema_name', 'langchain:llm', 'status', 'active',
	'payload', '{"span_id": "l-3", "trace_id": "t-2"}'::jsonb))));
SELECT pg_temp.show(prefactor.prefactor_sdk_finish_span(:'tok', :'l1', '{}'));
-- a retry of a span stored before the termination: its answer, with the signal
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run2', 'schema_name', 'langchain:llm', 'status', 'complete',
	'payload', '{"span_id": "l-1", "trace_id": "t-2"}'::jsonb, 'result_payload', '{"x": 1}'::jsonb))));
SELECT pg_temp.show(prefactor.prefactor_sdk_finish(:'tok', :'run2', '{}'));
SELECT operation, client_span_id, trace_id, span_type, span_id IS NOT NULL AS names_span
  FROM prefactor.sdk_refused_spans WHERE instance_id = :'run2' ORDER BY operation, client_span_id;
SELECT count(*) AS spans_stored FROM prefactor.spans WHERE instance_id = :'run2';

------------------------------------------------------------------------------
-- Tokens and ids bind each call: wrong, revoked, another deployment's or
-- another account's; each answered as the SDK expects, nothing stored.
------------------------------------------------------------------------------
SELECT (prefactor.prefactor_sdk_register(:'tok', '{}')).body->'details'->>'id' AS run3 \gset
SELECT pg_temp.show(prefactor.prefactor_sdk_start(:'tok', :'run3', '{"timestamp": "2026-01-01T11:00:00Z"}'));
SELECT (prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run3', 'schema_name', 'agent', 'status', 'active', 'started_at', '2026-01-01T11:00:01Z',
	'payload', '{"span_id": "x-1"}'::jsonb)))).body->'details'->>'id' AS span3 \gset
CREATE FUNCTION pg_temp.counts() RETURNS text LANGUAGE sql
	RETURN format('instances %s, spans %s, sdk_spans %s, refused %s, keys %s',
		(SELECT count(*) FROM prefactor.instances), (SELECT count(*) FROM prefactor.spans),
		(SELECT count(*) FROM prefactor.sdk_spans), (SELECT count(*) FROM prefactor.sdk_refused_spans),
		(SELECT count(*) FROM prefactor.idempotency_keys));
SELECT pg_temp.counts() AS before \gset
SELECT pg_temp.show(prefactor.prefactor_sdk_register('pft_nonsense', '{}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_start(:'tok_revoked', :'run3', '{}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok_revoked', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run3', 'schema_name', 'agent', 'payload', '{"span_id": "x-2"}'::jsonb))));
SELECT pg_temp.show(prefactor.prefactor_sdk_finish_span(NULL, :'span3', '{}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_register('', '{}'));
-- the same account, another environment's or agent's token: unknown ids
SELECT pg_temp.show(prefactor.prefactor_sdk_finish(:'tok_dev', :'run3', '{}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok_bot2', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run3', 'schema_name', 'agent', 'payload', '{"span_id": "x-2"}'::jsonb))));
SELECT pg_temp.show(prefactor.prefactor_sdk_finish_span(:'tok_dev', :'span3', '{}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_register(:'tok', jsonb_build_object('agent_id', split_part(:'tok_bot2', '_', 2))));
-- another account's run and span with this token: unknown ids
SELECT pg_temp.show(prefactor.prefactor_sdk_start(:'tok', :'grun', '{}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_finish(:'tok', :'grun', '{}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'grun', 'schema_name', 'agent', 'payload', '{"span_id": "g-1"}'::jsonb))));
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run3', 'schema_name', 'agent', 'parent_span_id', :'gspan', 'payload', '{"span_id": "g-2"}'::jsonb))));
SELECT pg_temp.show(prefactor.prefactor_sdk_finish_span(:'tok', :'gspan', '{}'));
-- another account's token: this role may not ingest there
SELECT pg_temp.show(prefactor.prefactor_sdk_register(:'tok_globex', '{}'));
-- malformed: ids, bodies, times, statuses, parents
SELECT pg_temp.show(prefactor.prefactor_sdk_start(:'tok', 'not-an-id', '{}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_start(:'tok', :'run3', '[1]'));
SELECT pg_temp.show(prefactor.prefactor_sdk_finish(:'tok', :'run3', '{"timestamp": "yesterday-ish"}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_finish(:'tok', :'run3', '{"status": "terminated"}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_finish_span(:'tok', :'span3', '{"status": "active"}'));
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run3', 'schema_name', 'agent', 'parent_span_id', 'nope', 'payload', '{"span_id": "x-3"}'::jsonb))));
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run3', 'schema_name', 'agent', 'payload', '{"span_id": 7}'::jsonb))));
SELECT pg_temp.show(prefactor.prefactor_sdk_create_span(:'tok', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run3', 'schema_name', 'agent', 'status', 'complete', 'payload', '{"span_id": "x-4"}'::jsonb,
	'started_at', '2026-01-01T11:00:05Z', 'finished_at', '2026-01-01T11:00:04Z'))));
SELECT pg_temp.counts() = :'before' AS nothing_stored, pg_temp.counts();
-- a role without ingest access gets nothing through a valid token
\c - regress_sdk_other
SELECT (prefactor.prefactor_sdk_register(:'tok', '{}')).http_status;

-- By account (prefactor_sdk_call, what the gateway calls once it knows the
-- token's account from prefactor_token_account): the same answers; a token
-- of another account, an unknown operation and an invalid token are refused.
\c - regress_sdk_ingest
SELECT prefactor.prefactor_token_account(:'tok') IS NOT NULL AS known,
	   prefactor.prefactor_token_account(:'tok') = prefactor.prefactor_token_account(:'tok_dev') AS same_account,
	   prefactor.prefactor_token_account(:'tok_globex') <> prefactor.prefactor_token_account(:'tok') AS other_account,
	   prefactor.prefactor_token_account(overlay(:'tok' PLACING 'ffff' FROM 98)) IS NULL AS wrong_secret_unknown,
	   prefactor.prefactor_token_account(:'tok_revoked') IS NULL AS revoked_unknown,
	   prefactor.prefactor_token_account(NULL) IS NULL AS null_unknown;
SELECT prefactor.prefactor_token_account(:'tok') AS acme \gset
SELECT (prefactor.prefactor_sdk_call(:'acme', 'register', :'tok', NULL, jsonb_build_object(
		'agent_version', '{"external_identifier": "v1"}'::jsonb))).body->'details'->>'id' AS run4 \gset
SELECT a.http_status, a.body->>'status' AS status
  FROM prefactor.prefactor_sdk_call(:'acme', 'start', :'tok', :'run4', '{}') a;
SELECT a.http_status, a.body->>'status' AS status
  FROM prefactor.prefactor_sdk_call(:'acme', 'create_span', :'tok', NULL, jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run4', 'schema_name', 'agent', 'status', 'complete', 'payload', '{"span_id": "by-account-1"}'::jsonb,
	'started_at', now(), 'finished_at', now()))) a;
SELECT a.http_status FROM prefactor.prefactor_sdk_call(:'acme', 'finish', :'tok', :'run4', '{"status": "complete"}') a;
SELECT a.http_status, a.body->>'code' AS code
  FROM prefactor.prefactor_sdk_call(prefactor.prefactor_token_account(:'tok_globex'), 'register', :'tok', NULL, '{}') a;
SELECT a.http_status, a.body->>'code' AS code
  FROM prefactor.prefactor_sdk_call(:'acme', 'drop_everything', :'tok', NULL, '{}') a;
SELECT a.http_status, a.body->>'code' AS code
  FROM prefactor.prefactor_sdk_call(:'acme', 'register', overlay(:'tok' PLACING 'ffff' FROM 98), NULL, '{}') a;
-- the node holding an account's shards: none on a database that is not distributed
SELECT count(*) AS nodes FROM prefactor.prefactor_account_node(:'acme');

-- an SDK span call finds its run by the run's primary key, never through the
-- index of the agent's runs (whose entries grow with every run the agent had):
-- the run lock and the run's row are read through the primary key itself
SELECT (prefactor.prefactor_sdk_call(:'acme', 'register', :'tok', NULL, jsonb_build_object(
		'agent_version', '{"external_identifier": "v1"}'::jsonb))).body->'details'->>'id' AS run5 \gset
SELECT a.http_status FROM prefactor.prefactor_sdk_call(:'acme', 'start', :'tok', :'run5', '{}') a;
SELECT string_agg(a.http_status::text, ',') AS created
  FROM generate_series(1, 3) n,
	   LATERAL prefactor.prefactor_sdk_call(:'acme', 'create_span', :'tok', NULL, jsonb_build_object('details', jsonb_build_object(
		'agent_instance_id', :'run5', 'schema_name', 'agent', 'status', 'complete',
		'payload', jsonb_build_object('span_id', 'by-key-' || n)))) a;
-- how a token's text is read and how a body's members are (C: src/access,
-- src/api/sdk_body.c): only the exact form pft_<lowercase pfid>_<64 lowercase
-- hex digits> names an id; a member of another type is refused with an excerpt
SELECT prefactor.ingest_token_id(:'tok')::text = substr(:'tok', 5, 32) AS parsed,
	   prefactor.ingest_token_id(upper(:'tok')) IS NULL AS upper_case,
	   prefactor.ingest_token_id(left(:'tok', 100)) IS NULL AS short,
	   prefactor.ingest_token_id(:'tok' || '0') IS NULL AS long,
	   prefactor.ingest_token_id(overlay(:'tok' PLACING '8' FROM 5)) IS NULL AS partition_digit,
	   prefactor.ingest_token_id(overlay(:'tok' PLACING 'u' FROM 10)) IS NULL AS not_crockford,
	   prefactor.ingest_token_id(overlay(:'tok' PLACING 'g' FROM 101)) IS NULL AS not_hex,
	   prefactor.ingest_token_id(overlay(:'tok' PLACING 'x' FROM 1)) IS NULL AS prefix;
SELECT prefactor.sdk_body(NULL, 'body') AS null_body, prefactor.sdk_body('null', 'body') AS json_null,
	   prefactor.sdk_text('{"a": null}', 'a') IS NULL AS null_member, prefactor.sdk_text('[1]', 'a') IS NULL AS not_object;
\set VERBOSITY default
SELECT prefactor.sdk_body('7', 'details');
SELECT prefactor.sdk_text(jsonb_build_object('a', jsonb_build_array(repeat('y', 300))), 'a');

\c - :superuser
BEGIN;	-- the backend's counts of index scans, before and after, in one transaction
SELECT pg_stat_get_xact_numscans('prefactor.instances_agent_env_started'::regclass) AS agent_scans,
	   pg_stat_get_xact_numscans('prefactor.instances_pkey'::regclass) AS pkey_scans \gset
SELECT (prefactor.lock_instance(:'acme', :'run5')).id::text = :'run5' AS locked,
	   (prefactor.instance_row(:'acme', :'run5')).agent_id IS NOT NULL AS read,
	   prefactor.instance_row(:'acme', prefactor.pfid_generate(1)) IS NULL AS unknown_is_null;
SELECT pg_stat_get_xact_numscans('prefactor.instances_agent_env_started'::regclass) - :agent_scans AS agent_index_scans,
	   pg_stat_get_xact_numscans('prefactor.instances_pkey'::regclass) - :pkey_scans >= 3 AS by_primary_key;
COMMIT;
-- Every successful SDK call answers through sdk_success: PostgreSQL inlines it
-- (a SQL function whose body is no more volatile than it), so no call reads
-- and plans its body again
EXPLAIN (VERBOSE, COSTS OFF) SELECT prefactor.sdk_success(jsonb_build_object('id', g)) FROM generate_series(1, 2) g;
SET client_min_messages = warning;
DROP EXTENSION prefactor CASCADE;
DROP ROLE regress_sdk_ingest, regress_sdk_other;
CREATE EXTENSION prefactor;
