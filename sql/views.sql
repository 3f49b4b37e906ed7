-- Views for BI tools: contents on a small hand-made account, comments, security_invoker, and plans on
-- generated data.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
CREATE EXTENSION prefactor;
CREATE EXTENSION prefactor_sample;
RESET client_min_messages;
SET search_path = prefactor, public;
SET TimeZone = 'UTC';

SELECT prefactor_create_account('viewco') IS NOT NULL AS account;
SELECT prefactor_create_environment('viewco', 'production') IS NOT NULL AS env;
SELECT prefactor_create_environment('viewco', 'staging') IS NOT NULL AS env;
-- Runs of helper are scored under this profile (general template: identifiers 6, contacts 4,
-- health 8; read 1.0, destroy 2.0) with the bands low < 12 <= medium < 22 <= high.
SELECT prefactor_create_risk_profile('viewco', 'views', medium_threshold => 12, high_threshold => 22,
	critical_threshold => 100) IS NOT NULL AS risk_profile;
SELECT prefactor_register_agent('viewco', 'helper', risk_profile => 'views') IS NOT NULL AS agent;
SELECT prefactor_register_agent('viewco', 'idle') IS NOT NULL AS agent;

-- Schema 1 declares a model call that reads identifiers and contacts: (6 + 4) x 1.0 = 10 points a
-- span; a task scores nothing.
\set schema1 '{"external_identifier": "s1", "span_type_schemas": [{"name": "task", "params_schema": {"type": "object"}}, {"name": "llm", "params_schema": {"type": "object", "required": ["model"]}, "data_risk": {"action_profile": {"read_data": "allowed"}, "params_data_categories": {"personal_identifiers": "included", "contact_information": "included"}}}]}'
-- Run A (production, v1 / schema 1): a task with two model calls, one of them mismatching (its payload
-- lacks "model"), and an undeclared tool call nested under the second: scored 20, medium.
SELECT prefactor_start_run('viewco', 'helper', 'production', '{"external_identifier": "v1"}', :'schema1',
	started_at => '2025-03-01 10:00:00+00') AS run_a \gset
SELECT span_id AS a_root FROM prefactor_start_span(:'run_a', 'task', '{"goal": "answer"}', started_at => '2025-03-01 10:00:01+00') \gset
SELECT span_id AS a_llm1 FROM prefactor_record_span(:'run_a', 'llm', '{"model": "m"}', '{"output": "x"}',
	parent_span => :'a_root', started_at => '2025-03-01 10:00:02+00', finished_at => '2025-03-01 10:00:04+00') \gset
SELECT span_id AS a_llm2 FROM prefactor_start_span(:'run_a', 'llm', '{"prompt": "no model"}', :'a_root', '2025-03-01 10:00:05+00') \gset
SELECT span_id AS a_tool FROM prefactor_record_span(:'run_a', 'tool:search', '{"q": "x"}', NULL, 'failed', :'a_llm2',
	'2025-03-01 10:00:06+00', '2025-03-01 10:00:06.5+00') \gset
SELECT terminate FROM prefactor_finish_span(:'a_llm2', 'complete', '{"output": "y"}', '2025-03-01 10:00:08+00');
SELECT terminate FROM prefactor_finish_span(:'a_root', 'complete', '{}', '2025-03-01 10:00:09+00');
SELECT prefactor_finish_run(:'run_a', 'complete', '2025-03-01 10:00:10+00');

-- Run B (staging, v2 / schema 1, an hour later): one model call, scored 10, low; fails.
SELECT prefactor_start_run('viewco', 'helper', 'staging', '{"external_identifier": "v2"}', :'schema1',
	started_at => '2025-03-01 11:30:00+00') AS run_b \gset
SELECT terminate FROM prefactor_record_span(:'run_b', 'llm', '{"model": "m"}', '{"error": "timeout"}', 'failed',
	started_at => '2025-03-01 11:30:01+00', finished_at => '2025-03-01 11:30:31+00');
SELECT prefactor_finish_run(:'run_b', 'failed', '2025-03-01 11:30:32+00');

-- Run C (production, v2 with a new schema 2, next day): its model call reads and destroys health
-- data, 8 x 1.0 + 8 x 2.0 = 24, high; terminated, its open span cancelled.
SELECT prefactor_start_run('viewco', 'helper', 'production', '{"external_identifier": "v2"}',
	'{"external_identifier": "s2", "span_type_schemas": [{"name": "llm", "params_schema": {"type": "object"},
		"data_risk": {"action_profile": {"read_data": "allowed", "destroy_data": "allowed"},
					  "params_data_categories": {"health_and_medical": "included"}}}]}',
	started_at => '2025-03-02 09:00:00+00') AS run_c \gset
SELECT terminate FROM prefactor_start_span(:'run_c', 'llm', '{"model": "m"}', started_at => '2025-03-02 09:00:01+00');
SELECT prefactor_terminate_run(:'run_c', 'looping');

-- Recent runs: one pending, one active (an hour ago), one complete; counted in the last 24 hours.
SELECT prefactor_register_run('viewco', 'helper', 'production', NULL, NULL) IS NOT NULL AS pending_run;
SELECT prefactor_start_run('viewco', 'helper', 'production', NULL, NULL, started_at => now() - interval '1 hour') IS NOT NULL AS active_run;
SELECT prefactor_start_run('viewco', 'helper', 'staging', NULL, NULL, started_at => now() - interval '2 hours') AS recent \gset
SELECT prefactor_finish_run(:'recent');

-- Conformance and risk columns are what validation and scoring computed as the spans were stored.
SELECT span_type, validation, payload_conforms, result_conforms, jsonb_array_length(payload_errors) AS payload_errors,
	   risk_profile_revision_id IS NOT NULL AS scored
  FROM spans WHERE instance_id IN (:'run_a', :'run_b', :'run_c') ORDER BY started_at;

-- Every view: security_invoker, a comment on the view and on every column.
SELECT c.relname AS view, c.reloptions,
	   obj_description(c.oid, 'pg_class') IS NOT NULL AS commented,
	   count(*) FILTER (WHERE col_description(c.oid, a.attnum) IS NULL) AS columns_without_comment
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE n.nspname = 'prefactor' AND c.relkind = 'v'
 GROUP BY c.oid, c.relname, c.reloptions ORDER BY c.relname;

-- Activity over the last 24 hours: every agent and environment; old runs not counted.
SELECT agent, environment, pending, active, complete, failed, cancelled, terminated, total,
	   window_start BETWEEN now() - interval '24 hours 1 minute' AND now() - interval '23 hours 59 minutes' AS window_ok
  FROM agent_activity_24h ORDER BY agent, environment;

-- The instance summary of the three dated runs.
SELECT agent, version, schema_version, schema_identifier, environment, purpose, status, started_at,
	   -- a termination is stamped now(): only the other runs have fixed end times
	   CASE WHEN NOT terminated THEN finished_at END AS finished_at, CASE WHEN NOT terminated THEN duration END AS duration,
	   finished_at IS NOT NULL AS finished, spans, spans_complete, spans_failed, spans_cancelled, schema_mismatches, undeclared_spans,
	   risk_score, risk_level, terminated, termination_reason
  FROM instance_summary WHERE started_at < '2025-04-01' ORDER BY started_at;

-- Run A's timeline: start order, depth, path from the root, conformance.
SELECT ordinal, depth, path, span_type, status, offset_from_start, duration, conformance,
	   parent_span_id IS NOT DISTINCT FROM (SELECT parent_span_id FROM spans WHERE id = span_id) AS parent_ok,
	   path_ids[array_length(path_ids, 1)] = span_id AS path_ends_here, payload_errors
  FROM prefactor_span_timeline(:'run_a');
SELECT count(*) AS spans_of_unknown_run FROM prefactor_span_timeline('00000000000000000000000000000000');

-- Conformance per agent, schema version and span type.
SELECT agent, schema_version, schema_identifier, span_type, declared, spans, validated, mismatches,
	   payload_mismatches, result_mismatches, mismatch_rate, last_mismatch_at, last_seen_at
  FROM schema_conformance ORDER BY agent, schema_version, span_type;

-- Risk over time.
SELECT environment, agent, bucket_start, instances, scored, low, medium, high, critical, peak_level, peak_score, mean_score
  FROM risk_by_hour WHERE bucket_start < '2025-04-01' ORDER BY bucket_start, environment;
SELECT environment, agent, bucket_start, instances, low, medium, high, critical, peak_level, peak_score
  FROM risk_by_day WHERE bucket_start < '2025-04-01' ORDER BY bucket_start, environment;

-- Deployments: live now and the whole history.
SELECT prefactor_deploy('viewco', 'helper', 'production', 'v1') IS NOT NULL AS deployed;
SELECT prefactor_deploy('viewco', 'helper', 'production', 'v2') IS NOT NULL AS deployed;
SELECT prefactor_deploy('viewco', 'helper', 'staging', 'v2') IS NOT NULL AS deployed;
SELECT agent, environment, version FROM live_deployments ORDER BY environment;
SELECT agent, environment, version, version_name, schema_version, live, retired_at IS NULL AS open,
	   live_for >= interval '0' AS live_for_ok
  FROM deployment_history ORDER BY environment, deployed_at, live;

-- Versions with the schema version paired with each.
SELECT agent, version, version_name, schema_version, schema_identifier, runs,
	   first_run_at, first_seen_at = coalesce(first_run_at, created_at) AS first_ok,
	   last_run_at < '2025-04-01' AS last_run_dated
  FROM version_history ORDER BY agent, first_run_at, schema_version;

-- The views run with the caller's rights (security_invoker), so the caller's privileges and
-- row-level security policies apply to the tables they read: a reader of another account gets an
-- empty result, and a role prefactor never granted anything is refused (PUBLIC gets nothing).
SELECT prefactor_create_account('views-elsewhere') IS NOT NULL AS other_account;
CREATE ROLE prefactor_views_outsider LOGIN;
SELECT prefactor_grant_access('views-elsewhere', 'prefactor_views_outsider', 'reader');
SET ROLE prefactor_views_outsider;
SELECT count(*) FROM instance_summary;
SELECT count(*) FROM agent_activity_24h;
SELECT count(*) FROM version_history;
RESET ROLE;
SELECT prefactor_revoke_access('views-elsewhere', 'prefactor_views_outsider') AS revoked;
SET ROLE prefactor_views_outsider;
\set VERBOSITY terse
SELECT count(*) FROM prefactor.instance_summary;
\set VERBOSITY default
RESET ROLE;
DROP ROLE prefactor_views_outsider;

-- Plans: with the sample generator's data, one agent's last 24 hours of runs and one run's
-- timeline read through the instances and spans indexes, never a sequential scan of either.
SELECT instances, spans > 5000 AS many_spans
  FROM generate_sample('plans', 1000, 0.42, '2025-06-01 12:00+00', 60);
ANALYZE;
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS TABLE (node text) LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		node := line;
		RETURN NEXT;
	END LOOP;
END
$$;
CREATE FUNCTION pg_temp.scans(query text) RETURNS TABLE (reads_instances_by_index boolean, reads_spans_by_index boolean,
		seq_scans_of_instances_or_spans bigint)
	LANGUAGE sql AS $$
	SELECT bool_or(node ~ '(Index (Only )?Scan( Backward)? using|Bitmap Index Scan on) instances_'),
		   bool_or(node ~ '(Index (Only )?Scan( Backward)? using|Bitmap Index Scan on) spans_'),
		   count(*) FILTER (WHERE node ~ 'Seq Scan on (instances|spans)( |$)')
	  FROM pg_temp.plan_of(query)
$$;
SELECT * FROM pg_temp.scans($$
	SELECT * FROM prefactor.instance_summary
	 WHERE agent = 'support-chatbot' AND started_at >= '2025-06-01 12:00+00'::timestamptz - interval '24 hours'$$);
SELECT * FROM pg_temp.scans($$
	SELECT * FROM prefactor.instance_summary
	 WHERE agent_id = (SELECT id FROM prefactor.agents WHERE name = 'support-chatbot'
						  AND account_id = prefactor.resolve_account('plans'))
	 ORDER BY started_at DESC LIMIT 20$$);
-- A query that reads no name reads no name table: the views left-join them (the same rows: every
-- key is NOT NULL with a foreign key), so the planner removes the joins a query does not need and
-- weighs far fewer join orders than for inner joins on (account_id, id).
SELECT id AS chatbot FROM agents WHERE name = 'support-chatbot' AND account_id = resolve_account('plans') \gset
SELECT count(*) FILTER (WHERE node ~ ' on (agents|agent_versions|activity_schema_versions|environments)( |$)')
	   AS name_tables_read
  FROM pg_temp.plan_of(format($$
	SELECT instance_id, status, risk_score, spans FROM prefactor.instance_summary
	 WHERE agent_id = %L ORDER BY started_at DESC LIMIT 20$$, :'chatbot'));
SELECT count(*) FILTER (WHERE node ~ ' on (agents|agent_versions|activity_schema_versions|environments)( |$)')
	   AS name_tables_read
  FROM pg_temp.plan_of($$SELECT deployment_id, live FROM prefactor.deployment_history$$);
SELECT i.id AS plan_run FROM instances i JOIN agents g ON g.account_id = i.account_id AND g.id = i.agent_id
 WHERE g.name = 'research-agent' AND i.status = 'complete' AND i.account_id = resolve_account('plans')
 ORDER BY i.started_at DESC LIMIT 1 \gset
-- The timeline is PL/pgSQL (doc/scale-out.md): its scans are counted, in one transaction.
BEGIN;
CREATE TEMP TABLE scans_before AS
SELECT relname, seq_scan, idx_scan FROM pg_stat_xact_user_tables
 WHERE relid IN ('prefactor.spans'::regclass, 'prefactor.instances'::regclass);
SELECT count(*) AS timeline_rows_counted FROM prefactor_span_timeline(:'plan_run') \gset
SELECT bool_or(x.relname = 'spans' AND x.idx_scan > b.idx_scan) AS reads_spans_by_index,
	   sum(x.seq_scan - b.seq_scan)::bigint AS seq_scans_of_instances_or_spans
  FROM pg_stat_xact_user_tables x JOIN scans_before b USING (relname)
 WHERE x.relid IN ('prefactor.spans'::regclass, 'prefactor.instances'::regclass);
COMMIT;
SELECT count(*) > 5 AS timeline_rows, min(depth) AS root_depth, max(depth) AS deepest
  FROM prefactor_span_timeline(:'plan_run');
