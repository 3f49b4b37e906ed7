-- The product's real usage, run by test/citus/t/001_distributed.pl through a
-- Citus coordinator and on a plain node: the two outputs must be the same
-- (ids masked). Each client step is a login role on a fresh connection (\c).
-- Deterministic output only: no times, no ids (they are masked anyway).
\set ON_ERROR_STOP 1
\set VERBOSITY terse
\set SHOW_CONTEXT never
\pset null '<null>'
SET search_path = prefactor, public;
SELECT current_user AS superuser \gset

------------------------------------------------------------------------------
-- Set-up by the superuser: two accounts, login roles per level.
------------------------------------------------------------------------------
CREATE ROLE ci_admin LOGIN;
CREATE ROLE ci_ingest LOGIN;
CREATE ROLE ci_reader LOGIN;
CREATE ROLE ci_other LOGIN;
SELECT prefactor_create_account('acme') IS NOT NULL AS acme_created;
SELECT prefactor_create_account('globex') IS NOT NULL AS globex_created;
SELECT prefactor_grant_access('acme', 'ci_admin', 'admin');
SELECT prefactor_grant_access('acme', 'ci_ingest', 'ingest');
SELECT prefactor_grant_access('acme', 'ci_reader', 'reader');
SELECT prefactor_grant_access('globex', 'ci_other', 'admin');

------------------------------------------------------------------------------
-- The admin: environments, risk profiles (with and without
-- terminate_at_level), agents with a risk profile, a token, another admin.
------------------------------------------------------------------------------
\c - ci_admin
SELECT prefactor_create_environment('acme', 'production') IS NOT NULL AS env_created;
\c - ci_admin
SELECT prefactor_create_environment('acme', 'staging', 'pre-production', idempotency_key => 'env-1') IS NOT NULL AS env_created;
\c - ci_admin
SELECT prefactor_create_environment('acme', 'staging', 'pre-production', idempotency_key => 'env-1') IS NOT NULL AS env_retried;
\c - ci_admin
SELECT prefactor_create_risk_profile('acme', 'worked',
	category_weights => '{"personal_identifiers": 8, "contact_information": 4, "financial_information": 5}',
	action_multipliers => '{"read_data": 1.0, "financial_transactions": 1, "external_communication": {"included": false}}',
	medium_threshold => 20, high_threshold => 50, critical_threshold => 100) IS NOT NULL AS profile_created;
\c - ci_admin
SELECT prefactor_create_risk_profile('acme', 'strict', template => 'strict_gdpr',
	medium_threshold => 10, high_threshold => 20, critical_threshold => 40, terminate_at_level => 'high') IS NOT NULL AS profile_created;
\c - ci_admin
SELECT prefactor_update_risk_profile('acme', 'strict', medium_threshold => 11) AS new_revision;
\c - ci_admin
SELECT prefactor_register_agent('acme', 'support-bot', 'Answers questions', risk_profile => 'worked') IS NOT NULL AS agent_created;
\c - ci_admin
SELECT prefactor_register_agent('acme', 'strict-bot') IS NOT NULL AS agent_created;
\c - ci_admin
SELECT prefactor_assign_risk_profile('acme', 'strict-bot', 'strict');
\c - ci_admin
SELECT prefactor_grant_access('acme', 'ci_other', 'reader');
\c - ci_admin
SELECT prefactor_create_ingest_token('acme', 'support-bot', 'production') AS token \gset
SELECT :'token' ~ '^pft_' AS token_made;
\c - ci_admin
SELECT role_name, level FROM prefactor_list_members('acme');
\c - ci_admin
SELECT agent, environment, status FROM prefactor_list_ingest_tokens('acme');

------------------------------------------------------------------------------
-- The ingest role: runs with and without the token, spans with validation,
-- the worked example (41, medium) and a termination, the alerts received
-- by this session's LISTEN.
------------------------------------------------------------------------------
\set schema '{"external_identifier": "schema-1", "span_type_schemas": [{"name": "lookup", "params_schema": {"type": "object", "required": ["q"]}, "data_risk": {"action_profile": {"read_data": "allowed", "update_data": "disallowed"}, "params_data_categories": {"classification": "confidential", "personal_identifiers": "included", "contact_information": "included"}}}, {"name": "pay", "data_risk": {"action_profile": {"financial_transactions": "allowed"}, "params_data_categories": {"financial_information": "included"}, "result_data_categories": {"classification": "restricted"}}}, {"name": "chat"}]}'
\c - ci_ingest
LISTEN prefactor_risk;
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{"external_identifier": "v1"}', :'schema') AS r1 \gset
SELECT terminate FROM prefactor_record_span(:'r1', 'lookup', '{"q": "a"}');
SELECT terminate FROM prefactor_record_span(:'r1', 'lookup', '{"nope": 1}', status => 'failed');
SELECT span_id AS open_span FROM prefactor_start_span(:'r1', 'lookup', '{"q": "c"}') \gset
SELECT terminate FROM prefactor_record_span(:'r1', 'chat', '{"text": "hi"}', parent_span => :'open_span');
SELECT terminate FROM prefactor_finish_span(:'open_span', 'complete', '{"rows": 2}', idempotency_key => 'fin-1');
SELECT terminate FROM prefactor_finish_span(:'open_span', 'complete', '{"rows": 2}', idempotency_key => 'fin-1');
SELECT terminate FROM prefactor_record_span(:'r1', 'pay', '{"amount": 5}', idempotency_key => 'pay-1');
SELECT terminate FROM prefactor_record_span(:'r1', 'pay', '{"amount": 5}', idempotency_key => 'pay-1');
SELECT terminate FROM prefactor_record_span(:'r1', 'undeclared-type', '{}');
SELECT risk_score, risk_level FROM instance_summary WHERE instance_id = :'r1';
SELECT prefactor_record_quality(:'r1', 'helpfulness', '{"score": 4}');
SELECT prefactor_record_quality(:'r1', 'helpfulness', '{"score": 5}');
SELECT prefactor_finish_run(:'r1') AS finished;
\c - ci_ingest
SELECT prefactor_start_run(:'token', '{"external_identifier": "v1"}', :'schema') AS r2 \gset
SELECT terminate FROM prefactor_record_span(:'r2', 'chat', '{}');
SELECT prefactor_finish_run(:'r2', 'failed') AS finished;
\c - ci_ingest
SELECT prefactor_start_run(:'token', '{"external_identifier": "v2"}', NULL, '{"purpose": "eval", "idempotency_key": "run-2"}') AS r3 \gset
SELECT prefactor_start_run(:'token', '{"external_identifier": "v2"}', NULL, '{"purpose": "eval", "idempotency_key": "run-2"}') = :'r3' AS retried_same_run;
SELECT prefactor_finish_run(:'r3', 'complete', idempotency_key => 'fin-r3');
SELECT prefactor_finish_run(:'r3', 'complete', idempotency_key => 'fin-r3');
\c - ci_ingest
SELECT prefactor_register_run('acme', 'strict-bot', 'staging', '{"external_identifier": "s1"}', :'schema') AS r4 \gset
SELECT prefactor_begin_run(:'r4') AS begun;
\c - ci_ingest
LISTEN prefactor_risk;
SELECT terminate, reason FROM prefactor_record_span(:'r4', 'lookup', '{"q": "x"}');
SELECT terminate, reason FROM prefactor_record_span(:'r4', 'lookup', '{"q": "y"}');
SELECT terminate, reason IS NOT NULL AS has_reason FROM prefactor_record_span(:'r4', 'chat', '{}');
SELECT status, risk_level FROM instances WHERE id = :'r4';
\c - ci_ingest
SELECT prefactor_register_run('acme', 'strict-bot', 'staging', NULL, NULL) AS r5 \gset
SELECT prefactor_finish_run(:'r5', 'cancelled') AS finished;
\c - ci_ingest
SELECT prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL, started_at => '2025-01-01 10:00:00+00') AS r6 \gset
SELECT terminate FROM prefactor_record_span(:'r6', 'lookup', '{"q": "old"}', started_at => '2025-01-01 10:00:01+00', finished_at => '2025-01-01 10:00:02+00');
SELECT prefactor_finish_run(:'r6', 'complete', '2025-01-01 10:01:00+00') AS finished;
-- The run start naming its account by id (on Citus delegated whole to the account's worker).
\c - ci_ingest
SELECT account_id AS acme_id FROM accounts WHERE name = 'acme' \gset
SELECT prefactor_start_run(:'acme_id'::pfid, 'support-bot', 'production', NULL, NULL) AS r7 \gset
SELECT terminate FROM prefactor_record_span(:'r7', 'lookup', '{"q": "by id"}');
SELECT prefactor_finish_run(:'r7') AS finished;
SELECT i.status, a.name AS account, count(s.*) AS spans
  FROM instances i JOIN accounts a ON a.account_id = i.account_id
  LEFT JOIN spans s ON s.account_id = i.account_id AND s.instance_id = i.id
 WHERE i.id = :'r7' GROUP BY i.status, a.name;

-- The SDK protocol and OTLP, as prefactor-gateway calls them: every call
-- bound to the account, agent and environment of its token.
\c - ci_ingest
SELECT (prefactor_sdk_register(:'token', '{"agent_version": {"external_identifier": "v1"}}')).body->'details'->>'id' AS sdk_run \gset
SELECT (prefactor_sdk_start(:'token', :'sdk_run', '{}')).http_status AS sdk_started;
\c - ci_ingest
SELECT a.http_status AS sdk_span_created, a.body->>'status' AS answer
  FROM prefactor_sdk_create_span(:'token', jsonb_build_object('details', jsonb_build_object(
		'agent_instance_id', :'sdk_run', 'schema_name', 'lookup', 'status', 'complete',
		'payload', '{"span_id": "c-1", "trace_id": "t-1", "inputs": {"q": "sdk"}}'::jsonb,
		'started_at', now(), 'finished_at', now()))) a;
-- a retry of the create (no idempotency key): the same span, nothing stored twice
SELECT a.http_status AS sdk_span_retried
  FROM prefactor_sdk_create_span(:'token', jsonb_build_object('details', jsonb_build_object(
		'agent_instance_id', :'sdk_run', 'schema_name', 'lookup', 'status', 'complete',
		'payload', '{"span_id": "c-1", "trace_id": "t-1", "inputs": {"q": "sdk"}}'::jsonb,
		'started_at', now(), 'finished_at', now()))) a;
SELECT (prefactor_sdk_finish(:'token', :'sdk_run', '{"status": "complete"}')).http_status AS sdk_finished;
SELECT i.status, count(s.*) AS spans
  FROM instances i LEFT JOIN spans s ON s.account_id = i.account_id AND s.instance_id = i.id
 WHERE i.id = :'sdk_run' GROUP BY i.status;
\c - ci_ingest
SELECT a.http_status AS otlp_status, a.body AS otlp_answer
  FROM prefactor_otlp_export(:'token', '{"resourceSpans": [{"resource": {"attributes": [
		{"key": "service.name", "value": {"stringValue": "support-bot"}}]},
	  "scopeSpans": [{"spans": [
		{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203332",
		 "parentSpanId": "b7ad6b7169203331", "name": "chat",
		 "startTimeUnixNano": "1767261600100000000", "endTimeUnixNano": "1767261600900000000",
		 "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}], "status": {}},
		{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "agent",
		 "startTimeUnixNano": "1767261600000000000", "endTimeUnixNano": "1767261601000000000",
		 "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}}], "status": {}}
	  ]}]}]}') a;
\c - ci_ingest
SELECT i.status, count(s.*) AS spans, count(s.parent_span_id) AS linked_to_parent
  FROM otlp_traces t JOIN instances i ON i.account_id = t.account_id AND i.id = t.instance_id
  LEFT JOIN spans s ON s.account_id = i.account_id AND s.instance_id = i.id
 WHERE t.trace_id = '0af7651916cd43dd8448eb211c80319c' GROUP BY i.status;

------------------------------------------------------------------------------
-- The reader: views, timeline, risk, aggregates; the other role sees only
-- what it was granted.
------------------------------------------------------------------------------
\c - ci_reader
SELECT agent, version, schema_version, environment, purpose, status, spans, spans_complete, spans_failed,
	   spans_cancelled, schema_mismatches, undeclared_spans, risk_score, risk_level, terminated
  FROM instance_summary ORDER BY agent, status, spans, purpose;
\c - ci_reader
SELECT ordinal, depth, path, span_type, status, conformance FROM prefactor_span_timeline(:'r1');
\c - ci_reader
SELECT agent, schema_version, span_type, spans, mismatches FROM schema_conformance ORDER BY agent, schema_version, span_type;
\c - ci_reader
SELECT agent, environment, instances, scored, low, medium, high, critical, peak_level, peak_score, mean_score
  FROM risk_by_day ORDER BY agent, environment, bucket_start;
\c - ci_reader
SELECT risk_score(span_type_id, risk_profile_revision_id) AS score,
	   risk_breakdown(span_type_id, risk_profile_revision_id) -> 'spans' AS spans
  FROM spans WHERE instance_id = :'r1';
\c - ci_reader
SELECT i.status, risk_score(s.span_type_id, s.risk_profile_revision_id) AS score
  FROM spans s JOIN instances i ON i.account_id = s.account_id AND i.id = s.instance_id
 GROUP BY i.status ORDER BY i.status;
\c - ci_reader
SELECT prefactor_risk_level(41, risk_profile_revision_id) FROM instances WHERE id = :'r1';
\c - ci_reader
SELECT agent, environment, version FROM live_deployments;
\c - ci_reader
SELECT agent, environment, version, live FROM deployment_history ORDER BY agent, environment, deployed_at;
\c - ci_reader
SELECT agent, version, schema_version, runs FROM version_history ORDER BY agent, version, schema_version;
\c - ci_reader
SELECT count(*) AS accounts_seen FROM accounts;
\c - ci_reader
SELECT span_type, points FROM span_risk WHERE instance_id = :'r1' ORDER BY span_type, points;
\c - ci_other
SELECT count(*) AS runs_seen FROM instances;
\c - ci_other
SELECT count(*) AS spans_seen FROM spans;

------------------------------------------------------------------------------
-- The other account, then aggregates across accounts (superuser), purge.
------------------------------------------------------------------------------
\c - ci_other
SELECT prefactor_create_environment('globex', 'production') IS NOT NULL AS env_created;
\c - ci_other
SELECT prefactor_create_risk_profile('globex', 'default') IS NOT NULL AS profile_created;
\c - ci_other
SELECT prefactor_register_agent('globex', 'g-bot', risk_profile => 'default') IS NOT NULL AS agent_created;
\c - ci_other
SELECT prefactor_grant_access('globex', 'ci_ingest', 'ingest');
\c - ci_ingest
SELECT prefactor_start_run('globex', 'g-bot', 'production', '{"external_identifier": "g1"}', :'schema') AS g1 \gset
SELECT terminate FROM prefactor_record_span(:'g1', 'lookup', '{"q": "g"}');
SELECT terminate FROM prefactor_record_span(:'g1', 'pay', '{"amount": 1}');
SELECT prefactor_finish_run(:'g1') AS finished;
\c - ci_reader
SELECT count(*) AS runs_seen_by_acme_reader FROM instances;
\c - :superuser
SET search_path = prefactor, public;
SELECT current_user AS superuser \gset
SELECT a.name, count(*) AS spans, risk_score(s.span_type_id, s.risk_profile_revision_id) AS score
  FROM spans s JOIN accounts a ON a.account_id = s.account_id GROUP BY a.name ORDER BY a.name;
SELECT s.span_type, risk_score(s.span_type_id, s.risk_profile_revision_id) AS score,
	   risk_breakdown(s.span_type_id, s.risk_profile_revision_id) -> 'spans' AS spans
  FROM spans s GROUP BY s.span_type ORDER BY s.span_type;
SELECT risk_score(s.span_type_id, s.risk_profile_revision_id) AS score FROM spans s;
\c - ci_admin
SELECT * FROM prefactor_purge_runs('acme', '2025-06-01');
\c - ci_reader
SELECT count(*) AS runs_left FROM instances;
\c - ci_admin
SELECT prefactor_revoke_access('acme', 'ci_other') AS revoked;
\c - ci_other
SELECT count(*) AS acme_runs_after_revoke FROM instances WHERE account_id <> (SELECT account_id FROM accounts WHERE name = 'globex');
