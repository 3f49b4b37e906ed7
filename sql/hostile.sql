-- Hostile input: NULLs everywhere, wrong JSON shapes, empty and huge names,
-- quoting tricks, huge payloads, deep nesting, a catastrophic regex. Each call
-- gets a clear error or is stored; the server stays up; failed calls leave nothing.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
DROP ROLE IF EXISTS "regress_we""ird; role";
CREATE EXTENSION prefactor;
RESET client_min_messages;
SET search_path = prefactor, public;
\set VERBOSITY terse
\set SHOW_CONTEXT never
SELECT pg_postmaster_start_time() AS server_started \gset

\i test/regress_helpers.sql

SELECT prefactor_create_account('acme') AS acme \gset
SELECT prefactor_create_environment('acme', 'production') IS NOT NULL AS env;
SELECT prefactor_register_agent('acme', 'bot') IS NOT NULL AS agent;
SELECT prefactor_start_run('acme', 'bot', 'production', '{"external_identifier": "v1"}',
	'{"span_type_schemas": [{"name": "llm", "params_schema": {"type": "object"}},
		{"name": "regex", "params_schema": {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}}]}') AS run \gset
SELECT prefactor_register_run('acme', 'bot', 'production', NULL, NULL) AS pending \gset
SELECT (prefactor_start_span(:'run', 'llm', '{}')).span_id AS span \gset
SELECT prefactor_create_ingest_token('acme', 'bot', 'production') AS token \gset
-- The profile the update, assign and delete calls below name, so that they get past finding it.
SELECT prefactor_create_risk_profile('acme', 'p1') IS NOT NULL AS profile;
SELECT id AS token_id FROM ingest_tokens \gset
CREATE ROLE "regress_we""ird; role" LOGIN;

------------------------------------------------------------------------------
-- NULL in each argument of each public function (every call undone after).
------------------------------------------------------------------------------
CREATE TEMP TABLE calls (fn regprocedure PRIMARY KEY, args text[]);
INSERT INTO calls VALUES
	('prefactor_create_account(text)', ARRAY[$$'n1'$$]),
	('prefactor_create_environment(text,text,text,text)', ARRAY[$$'acme'$$, $$'staging'$$, $$'d'$$, $$'k9'$$]),
	('prefactor_register_agent(text,text,text,text,text)', ARRAY[$$'acme'$$, $$'bot2'$$, $$'d'$$, 'NULL', $$'k10'$$]),
	('prefactor_start_run(text,text,text,jsonb,jsonb,text,text,timestamptz)',
		ARRAY[$$'acme'$$, $$'bot'$$, $$'production'$$, $$'{"external_identifier": "v1"}'$$, $$'{}'$$, $$'live'$$, $$'k1'$$, 'now()']),
	('prefactor_start_run(text,jsonb,jsonb,jsonb)', ARRAY[quote_literal(:'token'), $$'{"external_identifier": "v1"}'$$, $$'{}'$$, $$'{}'$$]),
	('prefactor_start_run(pfid,text,text,jsonb,jsonb,text,text,timestamptz)',
		ARRAY[quote_literal(:'acme'), $$'bot'$$, $$'production'$$, $$'{"external_identifier": "v1"}'$$, $$'{}'$$, $$'live'$$, $$'k1b'$$, 'now()']),
	('prefactor_sdk_register(text,jsonb)', ARRAY[quote_literal(:'token'), $$'{}'$$]),
	('prefactor_sdk_start(text,text,jsonb)', ARRAY[quote_literal(:'token'), quote_literal(:'pending'), $$'{}'$$]),
	('prefactor_sdk_finish(text,text,jsonb)', ARRAY[quote_literal(:'token'), quote_literal(:'run'), $$'{}'$$]),
	('prefactor_sdk_create_span(text,jsonb)', ARRAY[quote_literal(:'token'), quote_literal(format(
		'{"details": {"agent_instance_id": "%s", "schema_name": "llm", "status": "active", "payload": {"span_id": "c1"}}}', :'run'))]),
	('prefactor_sdk_finish_span(text,text,jsonb)', ARRAY[quote_literal(:'token'), quote_literal(:'span'), $$'{}'$$]),
	('prefactor_sdk_call(pfid,text,text,text,jsonb)', ARRAY[quote_literal(:'acme'), $$'finish_span'$$, quote_literal(:'token'),
		quote_literal(:'span'), $$'{}'$$]),
	('prefactor_token_account(text)', ARRAY[quote_literal(:'token')]),
	('prefactor_account_node(pfid)', ARRAY[quote_literal(:'acme')]),
	('prefactor_otlp_export(text,jsonb)', ARRAY[quote_literal(:'token'), $$'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0123456789abcdef0123456789abcdef", "spanId": "0123456789abcdef", "startTimeUnixNano": "1767261600000000000", "endTimeUnixNano": "1767261601000000000"}]}]}]}'$$]),
	('prefactor_register_run(text,text,text,jsonb,jsonb,text,text)',
		ARRAY[$$'acme'$$, $$'bot'$$, $$'production'$$, $$'{"external_identifier": "v1"}'$$, $$'{}'$$, $$'live'$$, $$'k2'$$]),
	('prefactor_begin_run(pfid,timestamptz,text)', ARRAY[quote_literal(:'pending'), 'now()', $$'k3'$$]),
	('prefactor_start_span(pfid,text,jsonb,pfid,timestamptz,text)',
		ARRAY[quote_literal(:'run'), $$'llm'$$, $$'{}'$$, quote_literal(:'span'), 'now()', $$'k4'$$]),
	('prefactor_record_span(pfid,text,jsonb,jsonb,text,pfid,timestamptz,timestamptz,text)',
		ARRAY[quote_literal(:'run'), $$'llm'$$, $$'{}'$$, $$'{}'$$, $$'complete'$$, quote_literal(:'span'), 'now()', 'now()', $$'k5'$$]),
	('prefactor_finish_span(pfid,text,jsonb,timestamptz,text)',
		ARRAY[quote_literal(:'span'), $$'complete'$$, $$'{}'$$, 'now()', $$'k6'$$]),
	('prefactor_finish_run(pfid,text,timestamptz,text)', ARRAY[quote_literal(:'run'), $$'complete'$$, 'now()', $$'k7'$$]),
	('prefactor_terminate_run(pfid,text,text)', ARRAY[quote_literal(:'run'), $$'stop'$$, $$'k8'$$]),
	('prefactor_record_quality(pfid,text,jsonb,text)', ARRAY[quote_literal(:'run'), $$'tone'$$, $$'{}'$$, $$'k11'$$]),
	('prefactor_deploy(text,text,text,text,text)', ARRAY[$$'acme'$$, $$'bot'$$, $$'production'$$, $$'v1'$$, $$'k12'$$]),
	('prefactor_purge_runs(text,timestamptz)', ARRAY[$$'acme'$$, 'now()']),
	('prefactor_grant_access(text,name,text)', ARRAY[$$'acme'$$, $$'regress_we"ird; role'$$, $$'reader'$$]),
	('prefactor_revoke_access(text,name)', ARRAY[$$'acme'$$, $$'regress_we"ird; role'$$]),
	('prefactor_list_members(text)', ARRAY[$$'acme'$$]),
	('prefactor_create_ingest_token(text,text,text,timestamptz)', ARRAY[$$'acme'$$, $$'bot'$$, $$'production'$$, $$'infinity'$$]),
	('prefactor_list_ingest_tokens(text)', ARRAY[$$'acme'$$]),
	('prefactor_revoke_ingest_token(pfid)', ARRAY[quote_literal(:'token_id')]),
	('prefactor_set_ingest_token_expiry(pfid,timestamptz)', ARRAY[quote_literal(:'token_id'), $$'infinity'$$]),
	('prefactor_create_risk_profile(text,text,text,text,jsonb,jsonb,numeric,numeric,numeric,text)',
		ARRAY[$$'acme'$$, $$'p2'$$, $$'general'$$, $$'d'$$, $$'{}'$$, $$'{}'$$, '10', '20', '30', $$'critical'$$]),
	('prefactor_update_risk_profile(text,text,jsonb,jsonb,numeric,numeric,numeric,text,text)',
		ARRAY[$$'acme'$$, $$'p1'$$, $$'{}'$$, $$'{}'$$, '10', '20', '30', $$'critical'$$, $$'d'$$]),
	('prefactor_assign_risk_profile(text,text,text)', ARRAY[$$'acme'$$, $$'bot'$$, $$'p1'$$]),
	('prefactor_delete_risk_profile(text,text)', ARRAY[$$'acme'$$, $$'p1'$$]),
	('prefactor_register_schema_document(text,text,jsonb)', ARRAY[$$'acme'$$, $$'https://acme.example/a.json'$$, $$'{}'$$]),
	('prefactor_risk_level(numeric,pfid)', ARRAY['5', quote_literal(:'run')]),
	('prefactor_span_timeline(pfid)', ARRAY[quote_literal(:'run')]);
-- Every public function is covered.
SELECT p.oid::regprocedure AS not_covered FROM pg_proc p
 WHERE p.pronamespace = 'prefactor'::regnamespace AND p.proname LIKE 'prefactor\_%'
   AND p.oid NOT IN (SELECT fn FROM calls);
-- Each call with its sample arguments works...
SELECT p.proname || '/' || p.pronargs AS function,
	   pg_temp.try_undone(format('SELECT prefactor.%s(%s)', p.proname,
			(SELECT string_agg(format('(%s)::%s', a.arg, format_type(t.typ, NULL)), ', ' ORDER BY a.i)
			   FROM unnest(c.args) WITH ORDINALITY a(arg, i)
			   JOIN unnest(p.proargtypes::oid[]) WITH ORDINALITY t(typ, j) ON j = i))) AS sample_call
  FROM calls c JOIN pg_proc p ON p.oid = c.fn ORDER BY c.fn::text;
-- ...and with NULL in each position in turn. NULL where the model allows it
-- (descriptions, omitted version/schema, a quality payload to clear, no expiry) is fine.
SELECT p.proname || '/' || p.pronargs AS function, n.i AS pos, p.proargnames[n.i] AS argument,
	   pg_temp.try_undone(format('SELECT prefactor.%s(%s)', p.proname,
			(SELECT string_agg(format('(%s)::%s', CASE WHEN a.i = n.i THEN 'NULL' ELSE a.arg END, format_type(t.typ, NULL)),
							   ', ' ORDER BY a.i)
			   FROM unnest(c.args) WITH ORDINALITY a(arg, i)
			   JOIN unnest(p.proargtypes::oid[]) WITH ORDINALITY t(typ, j) ON j = i))) AS with_null
  FROM calls c JOIN pg_proc p ON p.oid = c.fn
  CROSS JOIN LATERAL generate_series(1, cardinality(c.args)) n(i)
 ORDER BY c.fn::text, n.i;

CREATE TEMP TABLE before AS SELECT * FROM pg_temp.snapshot();

------------------------------------------------------------------------------
-- Wrong JSON shapes for version and schema.
------------------------------------------------------------------------------
SELECT doc, pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, %L, %L)', 'acme', 'bot', 'production', doc, '{}')) AS as_version
  FROM unnest(ARRAY['"v1"', '[]', '7', 'null', 'true', '{"external_identifier": 7}', '{"name": {}}',
					'{"description": ["x"]}', '{"external_identifier": null, "name": null}']) doc;
SELECT left(doc, 70) AS doc, pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, %L, %L)', 'acme', 'bot', 'production', '{"external_identifier": "v1"}', doc)) AS as_schema
  FROM unnest(ARRAY['"s1"', '[]', '0', 'null', '{"external_identifier": 1}', '{"span_type_schemas": "llm"}',
					'{"span_type_schemas": {"name": "llm"}}', '{"span_type_schemas": [1]}', '{"span_type_schemas": [null]}',
					'{"span_type_schemas": [{"name": ""}]}', '{"span_type_schemas": [{"name": 5}]}',
					'{"span_type_schemas": [{"name": "' || repeat('n', 201) || '"}]}',
					'{"span_type_schemas": [{"name": "a", "data_risk": []}]}',
					'{"span_type_schemas": [{"name": "a", "template": {}}]}',
					'{"span_type_schemas": [{"name": "a"}, {"name": "a"}]}']) doc;
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, %L, %L)', 'acme', 'bot', 'production', '{"external_identifier": ', '{}')) AS not_json;
SELECT pg_temp.try(format('SELECT prefactor_record_quality(%L, %L, %L)', :'run', 'q', '{"a": }')) AS not_json;

------------------------------------------------------------------------------
-- Empty and 100 KB names; quotes, semicolons and non-ASCII.
------------------------------------------------------------------------------
SELECT what, pg_temp.try(stmt) FROM (VALUES
	('empty account', format('SELECT prefactor_create_account(%L)', '')),
	('100 KB account', format('SELECT prefactor_create_account(%L)', repeat('x', 102400))),
	('empty environment', format('SELECT prefactor_create_environment(%L, %L)', 'acme', '')),
	('100 KB environment', format('SELECT prefactor_create_environment(%L, %L)', 'acme', repeat('é', 102400))),
	('empty agent', format('SELECT prefactor_register_agent(%L, %L)', 'acme', '')),
	('100 KB agent', format('SELECT prefactor_register_agent(%L, %L)', 'acme', repeat('x', 102400))),
	('100 KB account lookup', format('SELECT prefactor_create_environment(%L, %L)', repeat('x', 102400), 'e')),
	('100 KB agent lookup', format('SELECT prefactor_start_run(%L, %L, %L, NULL, NULL)', 'acme', repeat('x', 102400), 'production')),
	('empty span type', format('SELECT prefactor_record_span(%L, %L, %L)', :'run', '', '{}')),
	('100 KB span type', format('SELECT prefactor_record_span(%L, %L, %L)', :'run', repeat('x', 102400), '{}')),
	('empty quality name', format('SELECT prefactor_record_quality(%L, %L, %L)', :'run', '', '{}')),
	('100 KB quality name', format('SELECT prefactor_record_quality(%L, %L, %L)', :'run', repeat('x', 102400), '{}')),
	('empty idempotency key', format('SELECT prefactor_start_span(%L, %L, idempotency_key => %L)', :'run', 'llm', '')),
	('100 KB idempotency key', format('SELECT prefactor_start_span(%L, %L, idempotency_key => %L)', :'run', 'llm', repeat('k', 102400))),
	('100 KB termination reason', format('SELECT prefactor_terminate_run(%L, %L)', :'pending', repeat('r', 102400))),
	('100 KB grantee', format('SELECT prefactor_grant_access(%L, %L, %L)', 'acme', repeat('r', 102400), 'reader')),
	('100 KB token', format('SELECT prefactor_start_run(%L, %L, %L)', repeat('t', 102400), '{}', '{}')),
	('100 KB pfid', format('SELECT prefactor_finish_run(%L)', repeat('0', 102400))),
	('bad pfid', format('SELECT prefactor_finish_run(%L)', 'ILUO0000000000000000000000000000'))
) v(what, stmt);
-- Names with quotes, semicolons and non-ASCII are plain data: stored and found again.
SELECT prefactor_create_account('a''; DROP TABLE prefactor.spans; --') IS NOT NULL AS created;
SELECT prefactor_create_environment('a''; DROP TABLE prefactor.spans; --', 'prod"; SELECT 1; --') IS NOT NULL AS created;
SELECT prefactor_register_agent('a''; DROP TABLE prefactor.spans; --', 'Робот 🤖 $$ \x00 %s %I') IS NOT NULL AS created;
SELECT prefactor_start_run('a''; DROP TABLE prefactor.spans; --', 'Робот 🤖 $$ \x00 %s %I', 'prod"; SELECT 1; --',
	'{"external_identifier": "v\u00e9\"1\"; --"}', '{"span_type_schemas": [{"name": "tool:\";drop"}]}') AS odd_run \gset
SELECT (prefactor_record_span(:'odd_run', 'tool:";drop', '{"q": "''; DROP TABLE x; --"}')).terminate;
SELECT a.name AS account, g.name AS agent, e.name AS environment, v.external_identifier, s.span_type, s.span_type_id IS NOT NULL AS declared
  FROM instances i JOIN accounts a USING (account_id)
  JOIN agents g ON g.account_id = i.account_id AND g.id = i.agent_id
  JOIN environments e ON e.account_id = i.account_id AND e.id = i.environment_id
  JOIN agent_versions v ON v.account_id = i.account_id AND v.id = i.version_id
  JOIN spans s ON s.account_id = i.account_id AND s.instance_id = i.id
 WHERE i.id = :'odd_run';
SELECT to_regclass('prefactor.spans') IS NOT NULL AS spans_still_there;
-- A role name with a quote and a semicolon is quoted, not executed.
SELECT prefactor_grant_access('acme', 'regress_we"ird; role', 'ingest');
SELECT g.rolname AS "group" FROM pg_auth_members am JOIN pg_roles g ON g.oid = am.roleid
 WHERE am.member = '"regress_we""ird; role"'::regrole;
SELECT prefactor_revoke_access('acme', 'regress_we"ird; role');
DROP ROLE "regress_we""ird; role";

------------------------------------------------------------------------------
-- 10 MB payloads, deep nesting, a catastrophic regex: spans are always kept.
------------------------------------------------------------------------------
SELECT (prefactor_record_span(:'run', 'llm', jsonb_build_object('blob', repeat('x', 10 * 1024 * 1024)),
							  jsonb_build_object('blob', repeat('y', 10 * 1024 * 1024)))).span_id AS big_span \gset
SELECT octet_length(payload->>'blob') AS payload_bytes, octet_length(result->>'blob') AS result_bytes
  FROM spans WHERE id = :'big_span';
SELECT prefactor_start_run('acme', 'bot', 'production', jsonb_build_object('external_identifier', 'big', 'description', repeat('d', 10 * 1024 * 1024)),
						   NULL) IS NOT NULL AS big_version_run;
SELECT octet_length(metadata->>'description') AS version_description_bytes FROM agent_versions WHERE external_identifier = 'big';
SELECT prefactor_record_quality(:'run', 'big', jsonb_build_object('blob', repeat('q', 10 * 1024 * 1024)));
SELECT octet_length(payload->>'blob') AS quality_bytes FROM instance_quality WHERE name = 'big';
-- 10,000 levels of nesting parse and are stored, in payloads and in schemas.
SELECT (prefactor_record_span(:'run', 'llm', ('{"deep": ' || repeat('[', 10000) || repeat(']', 10000) || '}')::jsonb)).span_id AS deep_span \gset
SELECT length(payload::text) AS deep_payload_length FROM spans WHERE id = :'deep_span';
SELECT prefactor_start_run('acme', 'bot', 'production', '{"external_identifier": "deep"}',
	('{"span_type_schemas": [{"name": "deep", "params_schema": ' || repeat('{"items": ', 10000) || '{}' || repeat('}', 10000) || '}]}')::jsonb) AS deep_run \gset
SELECT (prefactor_record_span(:'deep_run', 'deep', ('{"x": ' || repeat('[', 10000) || repeat(']', 10000) || '}')::jsonb)).terminate;
SELECT count(*) AS deep_spans_kept FROM spans WHERE instance_id = :'deep_run' AND span_type_id IS NOT NULL;
-- Far deeper than the parser's stack allows: a clear error, not a crash.
SELECT pg_temp.try(format('SELECT prefactor_record_span(%L, %L, %L)', :'run', 'llm', repeat('[', 1000000) || repeat(']', 1000000)));
-- A pattern that backtracks catastrophically on a near-match: the span is stored.
SELECT (prefactor_record_span(:'run', 'regex', jsonb_build_object('s', repeat('a', 5000) || '!'))).span_id AS regex_span \gset
SELECT span_type, status, octet_length(payload->>'s') AS s_bytes, validation, payload_conforms FROM spans WHERE id = :'regex_span';
SELECT (prefactor_record_span(:'run', 'regex', '{"s": "aaaa"}')).span_id AS regex_ok_span \gset
SELECT validation, payload_conforms FROM spans WHERE id = :'regex_ok_span';

-- The C helpers under the API take NULLs, junk and huge values with an answer or a clear error.
SELECT h.call, pg_temp.try(format('SELECT prefactor.%s', h.call)) AS result
  FROM (VALUES ('has_access(NULL, NULL)'), ('has_access(NULL, ''ingest'')'), ('has_access(NULL, ''root'')'),
			   ('require_access(NULL, ''ingest'', NULL)'), ('require_access(NULL, NULL, NULL)'),
			   ('member_accounts(NULL)'), ('member_accounts(repeat(''x'', 100000))'),
			   ('try_pfid(NULL)'), ('try_pfid(repeat(''7'', 100000))'), ('try_pfid(E''0000000000000000000000000000000\\u00e9'')'),
			   ('account_of(NULL)'), ('account_of(pfid_build(0, 1073741823, ''\x00000000000000000000''))'),
			   ('canonical_digest(NULL)'), ('canonical_digest(jsonb_build_object(''big'', repeat(''b'', 10000000))) IS NOT NULL'))
	   AS h(call);

------------------------------------------------------------------------------
-- Nothing partial remains from the failed calls; the server never restarted.
------------------------------------------------------------------------------
SELECT b.t, s.n - b.n AS added FROM before b JOIN pg_temp.snapshot() s USING (t) WHERE s.n <> b.n ORDER BY 1;
SELECT pg_postmaster_start_time() = :'server_started' AS server_stayed_up;
DROP EXTENSION prefactor CASCADE;
CREATE EXTENSION prefactor;
