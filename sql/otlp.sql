-- OpenTelemetry traces (issue 15): prefactor_otlp_export as a gateway calls it
-- for POST /v1/traces, by a login role with ingest access, with the OTLP/JSON
-- bodies an exporter sends (children first, in several requests, redelivered).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
DROP ROLE IF EXISTS regress_otlp_ingest, regress_otlp_reader;
CREATE EXTENSION prefactor;
RESET client_min_messages;
\set VERBOSITY terse
\set SHOW_CONTEXT never
SELECT current_user AS superuser \gset
\set pw 'regress_otlp_unused'
\getenv pw PGPASSWORD
CREATE ROLE regress_otlp_ingest LOGIN PASSWORD :'pw';
CREATE ROLE regress_otlp_reader LOGIN PASSWORD :'pw';

-- Set-up: account acme with agents bot and guarded (a risk profile that
-- terminates at high), environments prod and dev; another account globex.
SELECT prefactor.prefactor_create_account('acme') IS NOT NULL AS acme,
	   prefactor.prefactor_create_account('globex') IS NOT NULL AS globex;
SELECT prefactor.prefactor_create_environment('acme', 'prod') IS NOT NULL AS env,
	   prefactor.prefactor_create_environment('acme', 'dev') IS NOT NULL AS env2,
	   prefactor.prefactor_register_agent('acme', 'bot') IS NOT NULL AS agent,
	   prefactor.prefactor_register_agent('acme', 'guarded') IS NOT NULL AS agent2,
	   prefactor.prefactor_create_environment('globex', 'prod') IS NOT NULL AS genv,
	   prefactor.prefactor_register_agent('globex', 'bot') IS NOT NULL AS gagent;
SELECT prefactor.prefactor_grant_access('acme', 'regress_otlp_ingest', 'ingest');
SELECT prefactor.prefactor_grant_access('acme', 'regress_otlp_reader', 'reader');
SELECT prefactor.prefactor_create_ingest_token('acme', 'bot', 'prod') AS tok \gset
SELECT prefactor.prefactor_create_ingest_token('acme', 'bot', 'dev') AS tok_dev \gset
SELECT prefactor.prefactor_create_ingest_token('acme', 'guarded', 'prod') AS tok_guarded \gset
SELECT prefactor.prefactor_create_ingest_token('acme', 'bot', 'prod') AS tok_revoked \gset
SELECT prefactor.prefactor_revoke_ingest_token(split_part(:'tok_revoked', '_', 2)::prefactor.pfid);
SELECT prefactor.prefactor_create_ingest_token('acme', 'bot', 'prod') AS tok_expired \gset
SELECT prefactor.prefactor_set_ingest_token_expiry(split_part(:'tok_expired', '_', 2)::prefactor.pfid, now() - interval '1 second');
SELECT prefactor.prefactor_create_ingest_token('globex', 'bot', 'prod') AS tok_globex \gset
-- guarded declares a lookup tool whose data risk reaches high at its second
-- call under the profile (14 points a call, high at 20): its run is terminated
SELECT prefactor.prefactor_finish_run(prefactor.prefactor_start_run('acme', 'guarded', 'prod',
	'{"external_identifier": "g1"}', '{"external_identifier": "gs1", "span_type_schemas": [
	{"name": "invoke_agent"},
	{"name": "execute_tool:lookup", "params_schema": {"type": "object"},
	 "data_risk": {"action_profile": {"read_data": "allowed"},
				   "params_data_categories": {"classification": "confidential", "personal_identifiers": "included",
											  "contact_information": "included"}}}]}'));
SELECT prefactor.prefactor_create_risk_profile('acme', 'strict', template => 'strict_gdpr',
	medium_threshold => 10, high_threshold => 20, critical_threshold => 40, terminate_at_level => 'high') IS NOT NULL AS profile;
SELECT prefactor.prefactor_assign_risk_profile('acme', 'guarded', 'strict');

\c - regress_otlp_ingest
\set VERBOSITY terse
\set SHOW_CONTEXT never
\i test/regress_helpers.sql
-- An answer with ids masked.
CREATE FUNCTION pg_temp.show(a prefactor.sdk_answer) RETURNS text LANGUAGE sql
	RETURN a.http_status || ' ' || regexp_replace(a.body::text, '[0-7][0-9a-z]{31}', '<id>', 'g');
-- An attribute with a string, int or other AnyValue.
CREATE FUNCTION pg_temp.kv(k text, v text) RETURNS jsonb LANGUAGE sql
	RETURN jsonb_build_object('key', k, 'value', jsonb_build_object('stringValue', v));
CREATE FUNCTION pg_temp.kvi(k text, v bigint) RETURNS jsonb LANGUAGE sql
	RETURN jsonb_build_object('key', k, 'value', jsonb_build_object('intValue', v::text));
-- A span of trace t (a short name padded to 32 hex digits), ids likewise to
-- 16, times in ms after 2026-01-01 10:00 UTC (sent as unix-nanosecond strings).
CREATE FUNCTION pg_temp.span(t text, id text, parent text, name text, start_ms int, end_ms int,
							 attrs jsonb DEFAULT '[]', status jsonb DEFAULT '{}', extra jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql
	RETURN jsonb_build_object('traceId', lpad(t, 32, '0'), 'spanId', lpad(id, 16, '0'),
		'parentSpanId', coalesce(lpad(parent, 16, '0'), ''), 'name', name, 'kind', 1,
		'startTimeUnixNano', ((1767261600000 + start_ms)::numeric * 1000000)::text,
		'endTimeUnixNano', ((1767261600000 + end_ms)::numeric * 1000000)::text,
		'attributes', attrs, 'status', status) || extra;
-- A request: one resource (service.name bot unless given) with these spans.
CREATE FUNCTION pg_temp.req(spans jsonb, resource jsonb DEFAULT NULL) RETURNS jsonb LANGUAGE sql
	RETURN jsonb_build_object('resourceSpans', jsonb_build_array(jsonb_build_object(
		'resource', jsonb_build_object('attributes', coalesce(resource,
			jsonb_build_array(pg_temp.kv('service.name', 'bot'), pg_temp.kv('service.version', '2.0.0'),
							  pg_temp.kv('deployment.environment.name', 'prod')))),
		'scopeSpans', jsonb_build_array(jsonb_build_object('scope', jsonb_build_object('name', 'regress'),
			'spans', spans)))));
-- The run of a trace, and its spans as the views show them.
CREATE FUNCTION pg_temp.run_of(t text) RETURNS prefactor.pfid LANGUAGE sql
	RETURN (SELECT instance_id FROM prefactor.otlp_traces WHERE trace_id = lpad(t, 32, '0'));
CREATE FUNCTION pg_temp.tree(t text)
RETURNS TABLE (depth int, path text, status text, otel_id text, starts interval, took interval, parent_ref text)
LANGUAGE sql AS $$
	SELECT tl.depth, tl.path, tl.status, ltrim(o.span_id, '0'), tl.offset_from_start, tl.duration, s.parent_ref
	  FROM prefactor.prefactor_span_timeline(pg_temp.run_of(t)) tl
	  JOIN prefactor.spans s ON s.id = tl.span_id
	  JOIN prefactor.otlp_spans o ON o.account_id = s.account_id AND o.id = s.id
	 ORDER BY tl.ordinal
$$;
CREATE FUNCTION pg_temp.run(t text)
RETURNS TABLE (agent text, version text, environment text, status text, started_at timestamptz,
			   finished_at timestamptz, spans bigint)
LANGUAGE sql AS $$
	SELECT s.agent, s.version, s.environment, s.status, i.started_at, i.finished_at, s.spans
	  FROM prefactor.instance_summary s JOIN prefactor.instances i ON i.id = s.instance_id
	 WHERE s.instance_id = pg_temp.run_of(t)
$$;
SET timezone = 'UTC';

------------------------------------------------------------------------------
-- One request with a whole agent run: invoke_agent > chat (usage, messages as
-- JSON text), execute_tool search; sent as a batch exporter sends it, as the
-- spans end (children first).
------------------------------------------------------------------------------
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(
	pg_temp.span('a1', 'c1', 'b1', 'chat gpt-4o', 100, 900, jsonb_build_array(
		pg_temp.kv('gen_ai.operation.name', 'chat'), pg_temp.kv('gen_ai.request.model', 'gpt-4o'),
		pg_temp.kvi('gen_ai.usage.input_tokens', 812), pg_temp.kvi('gen_ai.usage.output_tokens', 64),
		pg_temp.kv('gen_ai.input.messages', '[{"role": "user", "parts": [{"type": "text", "content": "Offline?"}]}]'),
		pg_temp.kv('gen_ai.output.messages', '[{"role": "assistant", "parts": [{"type": "text", "content": "Yes."}]}]'))),
	pg_temp.span('a1', 'd1', 'b1', 'execute_tool search', 1000, 1200, jsonb_build_array(
		pg_temp.kv('gen_ai.operation.name', 'execute_tool'), pg_temp.kv('gen_ai.tool.name', 'search'),
		pg_temp.kv('gen_ai.tool.call.arguments', '{"q": "offline"}'), pg_temp.kv('gen_ai.tool.call.result', 'two hits'),
		jsonb_build_object('key', 'search.filters', 'value', jsonb_build_object('kvlistValue', jsonb_build_object('values',
			jsonb_build_array(pg_temp.kv('lang', 'en'), jsonb_build_object('key', 'tags', 'value',
				jsonb_build_object('arrayValue', jsonb_build_object('values', jsonb_build_array(
					jsonb_build_object('boolValue', true), jsonb_build_object('doubleValue', 0.5))))))))))),
	pg_temp.span('a1', 'b1', NULL, 'invoke_agent bot', 0, 1300, jsonb_build_array(
		pg_temp.kv('gen_ai.operation.name', 'invoke_agent'), pg_temp.kv('gen_ai.agent.name', 'bot'))))))) AS answer;
-- one run: the token's agent and environment, service.version as its version,
-- started at the root's start and finished at its end
SELECT * FROM pg_temp.run('a1');
SELECT * FROM pg_temp.tree('a1');
-- payload and result: messages parsed, usage kept, attributes as plain JSON
SELECT s.span_type, s.payload, s.result
  FROM prefactor.spans s JOIN prefactor.otlp_spans o ON o.id = s.id
 WHERE o.trace_id = lpad('a1', 32, '0') ORDER BY s.started_at;
-- the OTel ids are kept and queryable
SELECT count(*) AS by_trace FROM prefactor.otlp_spans WHERE trace_id = lpad('a1', 32, '0');
SELECT s.span_type FROM prefactor.otlp_spans o JOIN prefactor.spans s ON s.account_id = o.account_id AND s.id = o.id
 WHERE o.trace_id = lpad('a1', 32, '0') AND o.span_id = lpad('d1', 16, '0');
SELECT v.external_identifier AS version FROM prefactor.agent_versions v JOIN prefactor.agents g ON g.id = v.agent_id
 WHERE g.name = 'bot';

------------------------------------------------------------------------------
-- Children before their parents, across requests: the link is made when the
-- parent arrives; the run's start moves back to its earliest span.
------------------------------------------------------------------------------
SELECT pg_temp.req(jsonb_build_array(
	pg_temp.span('a2', '2c', '2b', 'chat gpt-4o', 200, 300, jsonb_build_array(pg_temp.kv('gen_ai.operation.name', 'chat'),
		pg_temp.kvi('gen_ai.usage.input_tokens', 10), pg_temp.kvi('gen_ai.usage.output_tokens', 5))),
	pg_temp.span('a2', '2e', '2d', 'execute_tool lookup', 420, 480, jsonb_build_array(
		pg_temp.kv('gen_ai.operation.name', 'execute_tool'), pg_temp.kv('gen_ai.tool.name', 'lookup'))),
	pg_temp.span('a2', '2d', '2b', 'chat gpt-4o', 400, 500, jsonb_build_array(pg_temp.kv('gen_ai.operation.name', 'chat'))))) AS first \gset
SELECT pg_temp.req(jsonb_build_array(
	pg_temp.span('a2', '2b', '2a', 'invoke_agent bot', 100, 600, jsonb_build_array(pg_temp.kv('gen_ai.operation.name', 'invoke_agent'))))) AS second \gset
SELECT pg_temp.req(jsonb_build_array(pg_temp.span('a2', '2a', NULL, 'POST /ask', 0, 700))) AS third \gset
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', :'first')) AS first;
-- the run is active from its earliest span so far; 2e found its parent 2d in
-- the same request, the others await theirs
SELECT status, started_at, finished_at, spans FROM pg_temp.run('a2');
SELECT * FROM pg_temp.tree('a2');
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', :'second')) AS second;
SELECT * FROM pg_temp.tree('a2');
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', :'third')) AS third;
-- the root arrived: all linked, the run started at the root's start and
-- finished at its end
SELECT status, started_at, finished_at, spans FROM pg_temp.run('a2');
SELECT * FROM pg_temp.tree('a2');

------------------------------------------------------------------------------
-- Redelivery stores nothing twice; a span sent twice in one request is stored once.
------------------------------------------------------------------------------
SELECT count(*) AS spans_before FROM prefactor.spans \gset
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', :'first')) AS again_first,
	   pg_temp.show(prefactor.prefactor_otlp_export(:'tok', :'second')) AS again_second,
	   pg_temp.show(prefactor.prefactor_otlp_export(:'tok', :'third')) AS again_third;
SELECT count(*) - :spans_before AS new_spans FROM prefactor.spans;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(
	pg_temp.span('a3', '3b', '3a', 'step', 10, 20), pg_temp.span('a3', '3b', '3a', 'step', 10, 20),
	pg_temp.span('A3', '3A', NULL, 'root', 0, 30))))) AS duplicate;
SELECT * FROM pg_temp.tree('a3');

------------------------------------------------------------------------------
-- Error status: a failed span with its message (or its exception event's);
-- a failed root fails the run.
------------------------------------------------------------------------------
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(
	pg_temp.span('a4', '4b', '4a', 'chat gpt-4o', 10, 20, jsonb_build_array(pg_temp.kv('gen_ai.operation.name', 'chat')),
				 '{"code": 2, "message": "rate limited"}'),
	pg_temp.span('a4', '4c', '4a', 'execute_tool search', 30, 40,
				 jsonb_build_array(pg_temp.kv('gen_ai.operation.name', 'execute_tool'), pg_temp.kv('gen_ai.tool.name', 'search')),
				 '{"code": "STATUS_CODE_ERROR"}', jsonb_build_object('events', jsonb_build_array(jsonb_build_object(
					'name', 'exception', 'timeUnixNano', '1767261600035000000',
					'attributes', jsonb_build_array(pg_temp.kv('exception.type', 'TimeoutError'),
													pg_temp.kv('exception.message', 'search timed out'))))))
	, pg_temp.span('a4', '4a', NULL, 'invoke_agent bot', 0, 50, jsonb_build_array(pg_temp.kv('gen_ai.operation.name', 'invoke_agent')),
				 '{"code": 2, "message": "the agent gave up"}'))))) AS failed;
SELECT status, spans FROM pg_temp.run('a4');
SELECT t.path, t.status, s.result
  FROM prefactor.prefactor_span_timeline(pg_temp.run_of('a4')) t JOIN prefactor.spans s ON s.id = t.span_id ORDER BY t.ordinal;
-- the views count them
SELECT spans, spans_failed FROM prefactor.instance_summary WHERE instance_id = pg_temp.run_of('a4');

------------------------------------------------------------------------------
-- Older conventions: gen_ai.prompt / gen_ai.completion indexed attributes,
-- prompt_tokens / completion_tokens, deployment.environment, no version; a
-- parent flagged remote makes the span its run's root.
------------------------------------------------------------------------------
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(
	pg_temp.span('a5', '5b', 'ffff', 'openai.chat', 10, 20, jsonb_build_array(
		pg_temp.kv('gen_ai.system', 'openai'), pg_temp.kv('gen_ai.prompt.1.role', 'user'),
		pg_temp.kv('gen_ai.prompt.0.content', 'Be brief.'), pg_temp.kv('gen_ai.prompt.0.role', 'system'),
		pg_temp.kv('gen_ai.prompt.1.content', 'Hi'), pg_temp.kv('gen_ai.completion.0.content', 'Hello'),
		pg_temp.kvi('gen_ai.usage.prompt_tokens', 7), pg_temp.kvi('gen_ai.usage.completion_tokens', 2)),
		extra => '{"flags": 769}')),
	jsonb_build_array(pg_temp.kv('service.name', 'bot'), pg_temp.kv('deployment.environment', 'prod'))))) AS older;
SELECT status, version, spans FROM pg_temp.run('a5');
SELECT s.span_type, s.payload->'input' AS input, s.result, s.parent_ref, o.parent_span_id AS remote_parent
  FROM prefactor.spans s JOIN prefactor.otlp_spans o ON o.id = s.id WHERE o.trace_id = lpad('a5', 32, '0');

------------------------------------------------------------------------------
-- Partial success: a resource of another agent or environment has its spans
-- rejected, the rest are stored.
------------------------------------------------------------------------------
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', jsonb_build_object('resourceSpans', jsonb_build_array(
	(pg_temp.req(jsonb_build_array(pg_temp.span('a6', '6a', NULL, 'ok', 0, 10)))->'resourceSpans'->0),
	(pg_temp.req(jsonb_build_array(pg_temp.span('a6', '6b', '6a', 'x', 1, 2), pg_temp.span('a7', '7a', NULL, 'x', 1, 2)),
				 jsonb_build_array(pg_temp.kv('service.name', 'bot2')))->'resourceSpans'->0),
	(pg_temp.req(jsonb_build_array(pg_temp.span('a6', '6c', '6a', 'x', 1, 2)),
				 jsonb_build_array(pg_temp.kv('service.name', 'bot'), pg_temp.kv('deployment.environment.name', 'dev')))->'resourceSpans'->0),
	(pg_temp.req(jsonb_build_array(pg_temp.span('a6', '6d', '6a', 'x', 3, 4)),
				 jsonb_build_array(pg_temp.kv('service.name', 'unknown_service:node')))->'resourceSpans'->0))))) AS partial;
SELECT * FROM pg_temp.tree('a6');
SELECT pg_temp.run_of('a7') IS NULL AS no_run_for_rejected_trace;
-- a trace whose run is the agent's in another environment: not the dev token's
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok_dev', pg_temp.req(jsonb_build_array(
	pg_temp.span('a6', '6e', '6a', 'x', 5, 6)), jsonb_build_array(pg_temp.kv('service.name', 'bot'))))) AS other_environment;
-- blank resource attributes count as absent: the latest version, the token's environment
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(pg_temp.span('aa', 'a0', NULL, 'root', 0, 5)),
	jsonb_build_array(pg_temp.kv('service.name', 'bot'), pg_temp.kv('service.version', ' '),
					  pg_temp.kv('deployment.environment.name', ''))))) AS blank;
SELECT version, environment, status FROM pg_temp.run('aa');

------------------------------------------------------------------------------
-- Termination: spans of a terminated run are counted (sdk_refused_spans) and
-- rejected, never silently lost; a redelivery counts them once.
------------------------------------------------------------------------------
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(
	pg_temp.span('a8', '8b', '8a', 'step', 10, 20))))) AS before_termination;
SELECT prefactor.prefactor_terminate_run(pg_temp.run_of('a8'), 'stopped by an operator');
SELECT pg_temp.req(jsonb_build_array(pg_temp.span('a8', '8c', '8a', 'step', 30, 40),
									 pg_temp.span('a8', '8b', '8a', 'step', 10, 20),
									 pg_temp.span('a8', '8a', NULL, 'root', 0, 50))) AS late \gset
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', :'late')) AS after_termination;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', :'late')) AS redelivered;
SELECT operation, ltrim(client_span_id, '0') AS span, span_type FROM prefactor.sdk_refused_spans
 WHERE instance_id = pg_temp.run_of('a8') ORDER BY 2;
SELECT status, spans FROM pg_temp.run('a8');
-- a trace whose run finished with its root: a late span is rejected and counted too
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(
	pg_temp.span('a1', 'e1', 'b1', 'late step', 1250, 1400))))) AS after_root;
SELECT count(*) AS counted FROM prefactor.sdk_refused_spans WHERE instance_id = pg_temp.run_of('a1');

-- Terminated by risk within one request: the second lookup reaches high and
-- ends the run; the spans after it are counted, not stored.
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok_guarded', pg_temp.req(jsonb_build_array(
	pg_temp.span('a9', '9b', '9a', 'execute_tool lookup', 10, 20, jsonb_build_array(
		pg_temp.kv('gen_ai.operation.name', 'execute_tool'), pg_temp.kv('gen_ai.tool.name', 'lookup'))),
	pg_temp.span('a9', '9c', '9a', 'execute_tool lookup', 30, 40, jsonb_build_array(
		pg_temp.kv('gen_ai.operation.name', 'execute_tool'), pg_temp.kv('gen_ai.tool.name', 'lookup'))),
	pg_temp.span('a9', '9d', '9a', 'execute_tool lookup', 50, 60, jsonb_build_array(
		pg_temp.kv('gen_ai.operation.name', 'execute_tool'), pg_temp.kv('gen_ai.tool.name', 'lookup'))),
	pg_temp.span('a9', '9a', NULL, 'invoke_agent guarded', 0, 70, jsonb_build_array(pg_temp.kv('gen_ai.operation.name', 'invoke_agent')))),
	jsonb_build_array(pg_temp.kv('service.name', 'guarded'))))) AS risk;
SELECT status, risk_level FROM prefactor.instances WHERE id = pg_temp.run_of('a9');
SELECT * FROM pg_temp.tree('a9');
SELECT ltrim(client_span_id, '0') AS refused FROM prefactor.sdk_refused_spans
 WHERE instance_id = pg_temp.run_of('a9') ORDER BY 1;

------------------------------------------------------------------------------
-- Tokens: none, unknown, revoked, expired are 401; another account's token
-- is 403 for this role (no ingest access there). Nothing is stored.
------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.counts() RETURNS TABLE (t text, n bigint) LANGUAGE sql AS $$
	SELECT 'spans', count(*) FROM prefactor.spans UNION ALL SELECT 'instances', count(*) FROM prefactor.instances
	UNION ALL SELECT 'otlp_spans', count(*) FROM prefactor.otlp_spans UNION ALL SELECT 'otlp_traces', count(*) FROM prefactor.otlp_traces
	UNION ALL SELECT 'sdk_refused_spans', count(*) FROM prefactor.sdk_refused_spans
	UNION ALL SELECT 'agent_versions', count(*) FROM prefactor.agent_versions
$$;
CREATE TEMP TABLE counts AS SELECT * FROM pg_temp.counts();
SELECT pg_temp.req(jsonb_build_array(pg_temp.span('b1', '1a', NULL, 'root', 0, 10))) AS one \gset
SELECT pg_temp.show(prefactor.prefactor_otlp_export(NULL, :'one')) AS no_token;
SELECT pg_temp.show(prefactor.prefactor_otlp_export('pft_nope', :'one')) AS unknown;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok_revoked', :'one')) AS revoked;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok_expired', :'one')) AS expired;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok_globex', :'one')) AS other_account;

-- By account (prefactor_sdk_call with operation otlp_export, as the gateway
-- calls it once it knows the token's account): the same answers and rows as
-- by token; a token of another account, or none, answers OTLP's 401.
SELECT prefactor.prefactor_token_account(:'tok') AS acme \gset
SELECT pg_temp.show(prefactor.prefactor_sdk_call(prefactor.prefactor_token_account(:'tok_globex'), 'otlp_export', :'tok', NULL, :'one')) AS by_other_account,
	   pg_temp.show(prefactor.prefactor_sdk_call(:'acme', 'otlp_export', NULL, NULL, :'one')) AS by_account_no_token,
	   pg_temp.show(prefactor.prefactor_sdk_call(:'acme', 'otlp_export', :'tok_revoked', NULL, :'one')) AS by_account_revoked;
SELECT c.t, c.n AS before, s.n AS after FROM counts c JOIN pg_temp.counts() s USING (t) WHERE c.n <> s.n;
SELECT pg_temp.show(a) AS by_account FROM prefactor.prefactor_sdk_call(:'acme', 'otlp_export', :'tok', NULL, pg_temp.req(jsonb_build_array(
	pg_temp.span('ab', 'b2', 'b1', 'execute_tool search', 10, 20, jsonb_build_array(
		pg_temp.kv('gen_ai.operation.name', 'execute_tool'), pg_temp.kv('gen_ai.tool.name', 'search'))),
	pg_temp.span('ab', 'b1', NULL, 'invoke_agent bot', 0, 30)))) a;
SELECT * FROM pg_temp.tree('ab');
-- redelivered by token: nothing stored twice
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(
	pg_temp.span('ab', 'b2', 'b1', 'execute_tool search', 10, 20), pg_temp.span('ab', 'b1', NULL, 'invoke_agent bot', 0, 30))))) AS by_token_again;
SELECT spans FROM pg_temp.run('ab');
SELECT pg_temp.show(a) AS by_account_bad_request FROM prefactor.prefactor_sdk_call(:'acme', 'otlp_export', :'tok', NULL, '{"resourceSpans": {}}') a;
DELETE FROM counts;
INSERT INTO counts SELECT * FROM pg_temp.counts();

------------------------------------------------------------------------------
-- Requests that do not decode: 400 naming where; nothing stored.
------------------------------------------------------------------------------
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', NULL)) AS no_body;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', '[]')) AS not_object;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', '"x"')) AS scalar;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', '{"resourceSpans": {}}')) AS resource_spans_object;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', '{"resourceSpans": [1]}')) AS resource_not_object;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', '{"resourceSpans": [{"resource": [], "scopeSpans": []}]}')) AS resource_array;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', '{"resourceSpans": [{"scopeSpans": "x"}]}')) AS scopes_string;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', '{"resourceSpans": [{"scopeSpans": [{"spans": {}}]}]}')) AS spans_object;
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req('[1]'))) AS span_number;
SELECT v.what, pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(
		pg_temp.span('b2', '2b', '2a', 'x', 0, 10) || v.patch)))) AS answer
  FROM (VALUES ('trace id not hex', '{"traceId": "zz000000000000000000000000000000"}'::jsonb),
			   ('trace id all zero', '{"traceId": "00000000000000000000000000000000"}'),
			   ('trace id short', '{"traceId": "abc"}'),
			   ('trace id number', '{"traceId": 12}'),
			   ('span id missing', '{"spanId": null}'),
			   ('span id 17 digits', '{"spanId": "0123456789abcdef0"}'),
			   ('parent id bad', '{"parentSpanId": "xyz"}'),
			   ('own parent', '{"parentSpanId": "000000000000002b"}'),
			   ('start negative', '{"startTimeUnixNano": "-5"}'),
			   ('start text', '{"startTimeUnixNano": "soon"}'),
			   ('start zero', '{"startTimeUnixNano": 0}'),
			   ('start fraction', '{"startTimeUnixNano": 1.5}'),
			   ('start beyond uint64', '{"startTimeUnixNano": "18446744073709551616"}'),
			   ('start 1e30', '{"startTimeUnixNano": 1e30}'),
			   ('end missing', '{"endTimeUnixNano": null}'),
			   ('end before start', '{"endTimeUnixNano": "1767261599000000000"}'),
			   ('name number', '{"name": 5}'),
			   ('status string', '{"status": "ERROR"}'),
			   ('attributes object', '{"attributes": {"a": 1}}'),
			   ('attribute without key', '{"attributes": [{"value": {"stringValue": "x"}}]}'),
			   ('events object', '{"events": {}, "status": {"code": 2}}')) v(what, patch);
-- parent links that form a cycle
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(
	pg_temp.span('b3', '3a', '3b', 'x', 0, 10), pg_temp.span('b3', '3b', '3a', 'x', 0, 10))))) AS cycle;
SELECT c.t, c.n AS before, s.n AS after FROM counts c JOIN pg_temp.counts() s USING (t) WHERE c.n <> s.n;
-- an AnyValue nested as deep as jsonb takes is stored (as nested arrays)
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(
	pg_temp.span('b4', '4a', NULL, 'x', 0, 10, jsonb_build_array(jsonb_build_object('key', 'deep', 'value',
		(repeat('{"arrayValue": {"values": [', 3000) || '{"stringValue": "x"}' || repeat(']}}', 3000))::jsonb))))))) AS deep;
SELECT s.payload #>> ('{attributes,deep,' || repeat('0,', 2999) || '0}')::text[] AS innermost
  FROM prefactor.spans s JOIN prefactor.otlp_spans o ON o.id = s.id WHERE o.trace_id = lpad('b4', 32, '0');
-- empty requests are fine
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', '{}')) AS empty,
	   pg_temp.show(prefactor.prefactor_otlp_export(:'tok', '{"resourceSpans": []}')) AS no_resources,
	   pg_temp.show(prefactor.prefactor_otlp_export(:'tok', '{"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}')) AS no_spans;

------------------------------------------------------------------------------
-- The guards: a parent link is made only for a span that awaits it, never
-- twice, never into a cycle; a run's start moves only earlier.
------------------------------------------------------------------------------
SELECT pg_temp.show(prefactor.prefactor_otlp_export(:'tok', pg_temp.req(jsonb_build_array(
	pg_temp.span('c1', 'c2', 'c1', 'child', 10, 20), pg_temp.span('c1', 'c3', 'c9', 'other', 10, 20))))) AS waiting;
SELECT s.id AS c2 FROM prefactor.spans s JOIN prefactor.otlp_spans o ON o.id = s.id WHERE o.span_id = lpad('c2', 16, '0') \gset
SELECT s.id AS c3 FROM prefactor.spans s JOIN prefactor.otlp_spans o ON o.id = s.id WHERE o.span_id = lpad('c3', 16, '0') \gset
-- a link to a span that awaits none, a second link, a changed status: refused
SELECT pg_temp.try(format('UPDATE prefactor.spans SET parent_span_id = %L WHERE id = %L', :'c3', :'c2')) AS link_keeping_ref;
SELECT pg_temp.try(format('UPDATE prefactor.spans SET parent_span_id = %L, parent_ref = NULL, status = %L WHERE id = %L',
						  :'c3', 'failed', :'c2')) AS link_and_status;
SELECT pg_temp.try(format('UPDATE prefactor.spans SET parent_span_id = %L, parent_ref = NULL WHERE id = %L', :'c3', :'c2')) AS link;
SELECT pg_temp.try(format('UPDATE prefactor.spans SET parent_span_id = %L, parent_ref = NULL WHERE id = %L', :'c2', :'c3')) AS cycle;
SELECT pg_temp.try(format('UPDATE prefactor.spans SET parent_ref = %L WHERE id = %L', 'again', :'c2')) AS await_again;
SELECT pg_temp.try(format('INSERT INTO prefactor.spans (account_id, instance_id, span_type, parent_span_id, parent_ref) VALUES (%L, %L, %L, %L, %L)',
	prefactor.account_of(:'c2'), pg_temp.run_of('c1'), 'x', :'c2', 'both')) AS parent_and_ref;
SELECT pg_temp.try(format('UPDATE prefactor.instances SET started_at = started_at + interval %L WHERE id = %L',
						  '1 second', pg_temp.run_of('c1'))) AS start_later;
SELECT pg_temp.try(format('UPDATE prefactor.instances SET started_at = started_at - interval %L WHERE id = %L',
						  '1 second', pg_temp.run_of('c1'))) AS start_earlier;

-- A reader may not export.
\c - regress_otlp_reader
\set VERBOSITY terse
SELECT prefactor.prefactor_otlp_export(:'tok', '{}');

\c - :superuser
SET client_min_messages = warning;
DROP EXTENSION prefactor CASCADE;
DROP ROLE regress_otlp_ingest, regress_otlp_reader;
CREATE EXTENSION prefactor;
