-- Risk scoring: profiles, revisions, live scores, aggregates, scope, termination.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
CREATE EXTENSION prefactor;
RESET client_min_messages;
SET search_path = prefactor, public;
\set VERBOSITY terse

SELECT prefactor_create_account('acme') IS NOT NULL AS account_created;
SELECT prefactor_create_environment('acme', 'production') IS NOT NULL AS env_created;

-- The vocabulary.
SELECT category_group, count(*) FROM risk_categories GROUP BY 1 ORDER BY min(position);
SELECT string_agg(name, ', ' ORDER BY position) AS actions FROM risk_actions;

-- Templates: a general baseline and a strict GDPR-oriented one.
SELECT name, medium_threshold, high_threshold, critical_threshold, terminate_at_level,
	   category_weights -> 'gdpr_genetic_data' AS gdpr_genetic_data,
	   action_multipliers -> 'destroy_data' AS destroy_data
  FROM risk_profile_templates ORDER BY name;

------------------------------------------------------------------------------
-- Profiles and their validation
------------------------------------------------------------------------------
-- The worked example's profile: identifiers 8, contacts 4, read 1.0; thresholds 20/50/100.
SELECT prefactor_create_risk_profile('acme', 'worked',
	category_weights => '{"personal_identifiers": 8, "contact_information": 4, "financial_information": 5,
						  "gdpr_genetic_data": false}',
	action_multipliers => '{"read_data": 1.0, "financial_transactions": 1, "external_communication": {"included": false}}',
	medium_threshold => 20, high_threshold => 50, critical_threshold => 100) IS NOT NULL AS created;
SELECT p.name, r.revision, r.medium_threshold, r.high_threshold, r.critical_threshold, r.terminate_at_level,
	   r.category_weights -> 'personal_identifiers' AS personal_identifiers,
	   r.category_weights -> 'gdpr_genetic_data' AS gdpr_genetic_data,
	   r.action_multipliers -> 'external_communication' AS external_communication,
	   (SELECT count(*) FROM jsonb_object_keys(r.category_weights)) AS categories,
	   (SELECT count(*) FROM jsonb_object_keys(r.action_multipliers)) AS actions
  FROM risk_profiles p JOIN risk_profile_revisions r ON r.risk_profile_id = p.id;

-- Thresholds must be strictly ascending with medium above zero.
SELECT prefactor_create_risk_profile('acme', 'bad', medium_threshold => 0);
SELECT prefactor_create_risk_profile('acme', 'bad', medium_threshold => -5, high_threshold => 10, critical_threshold => 20);
SELECT prefactor_create_risk_profile('acme', 'bad', medium_threshold => 50, high_threshold => 50, critical_threshold => 100);
SELECT prefactor_create_risk_profile('acme', 'bad', medium_threshold => 10, high_threshold => 60, critical_threshold => 40);
SELECT prefactor_update_risk_profile('acme', 'worked', high_threshold => 150);
-- Weights 0..10, multipliers 0..100, known names only.
SELECT prefactor_create_risk_profile('acme', 'bad', category_weights => '{"personal_identifiers": 11}');
SELECT prefactor_create_risk_profile('acme', 'bad', category_weights => '{"personal_identifiers": -1}');
SELECT prefactor_create_risk_profile('acme', 'bad', category_weights => '{"shoe_size": 3}');
SELECT prefactor_create_risk_profile('acme', 'bad', action_multipliers => '{"delete_data": 3}');
SELECT prefactor_create_risk_profile('acme', 'bad', action_multipliers => '{"read_data": -0.5}');
SELECT prefactor_create_risk_profile('acme', 'bad', action_multipliers => '{"read_data": "high"}');
SELECT prefactor_create_risk_profile('acme', 'bad', category_weights => '{"minors_data": {"weight": 3, "colour": "red"}}');
SELECT prefactor_create_risk_profile('acme', 'bad', category_weights => '[1, 2]');
SELECT prefactor_create_risk_profile('acme', 'bad', terminate_at_level => 'low');
SELECT prefactor_create_risk_profile('acme', 'bad', template => 'lenient');
SELECT prefactor_create_risk_profile('acme', 'worked');
SELECT prefactor_create_risk_profile('nobody', 'bad');
-- The full error report of one of them.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT prefactor_create_risk_profile('acme', 'bad', category_weights => '{"shoe_size": 3}');
SELECT prefactor_create_risk_profile('acme', 'bad', medium_threshold => 50, high_threshold => 50, critical_threshold => 100);
\set VERBOSITY terse
-- Direct inserts are completed and checked the same way; revisions never change.
INSERT INTO risk_profile_revisions (account_id, risk_profile_id, revision, category_weights, medium_threshold, high_threshold, critical_threshold)
SELECT account_id, id, 9, '{"minors_data": 12}', 1, 2, 3 FROM risk_profiles WHERE name = 'worked';
UPDATE risk_profile_revisions SET medium_threshold = 1;
SELECT count(*) AS profiles_after_errors FROM risk_profiles;

SELECT prefactor_register_agent('acme', 'support-bot', risk_profile => 'worked') IS NOT NULL AS agent_created;
SELECT prefactor_register_agent('acme', 'no-profile-bot') IS NOT NULL AS agent_created;
SELECT prefactor_assign_risk_profile('acme', 'support-bot', 'worked');
SELECT prefactor_assign_risk_profile('acme', 'support-bot', 'missing');
SELECT prefactor_assign_risk_profile('acme', 'ghost-bot', 'worked');

------------------------------------------------------------------------------
-- A schema version whose span types declare their data risk
------------------------------------------------------------------------------
CREATE TEMP TABLE doc (schema jsonb);
INSERT INTO doc VALUES ('{"external_identifier": "schema-1", "span_type_schemas": [
	{"name": "lookup", "params_schema": {"type": "object"},
	 "data_risk": {"action_profile": {"read_data": "allowed", "update_data": "disallowed", "create_data": "unknown"},
				   "params_data_categories": {"classification": "confidential", "personal_identifiers": "included",
											  "contact_information": "included", "health_and_medical": "excluded"},
				   "result_data_categories": {"classification": "internal", "contact_information": "included",
											  "location_and_tracking": "unknown"}}},
	{"name": "pay",
	 "data_risk": {"action_profile": {"financial_transactions": "allowed"},
				   "params_data_categories": {"financial_information": "included"},
				   "result_data_categories": {"classification": "restricted"}}},
	{"name": "notify",
	 "data_risk": {"action_profile": {"external_communication": "allowed", "create_data": "disallowed"},
				   "params_data_categories": {"contact_information": "included", "gdpr_genetic_data": "included"}}},
	{"name": "chat"}]}');
-- lookup: identifiers 8 + contacts 4 (in params and result, counted once) under read 1.0 = 12;
-- pay: financial information 5 under financial transactions 1 = 5;
-- notify: its only action (external communication) and genetic data are outside the profile = 0;
-- chat: declares no risk = 0.
CREATE FUNCTION pg_temp.start(agent text) RETURNS pfid LANGUAGE sql AS $$
	SELECT prefactor.prefactor_start_run('acme', agent, 'production', '{"external_identifier": "v1"}',
										 (SELECT schema FROM doc), started_at => '2024-01-01 00:00+00')
$$;
CREATE FUNCTION pg_temp.span(instance pfid, span_type text, status text DEFAULT 'complete', n int DEFAULT 1)
RETURNS TABLE (spans bigint, terminate boolean) LANGUAGE sql AS $$
	SELECT count((a).span_id), bool_or((a).terminate)
	  FROM (SELECT prefactor.prefactor_record_span(instance, span_type, '{}', NULL, status,
												   started_at => '2024-01-01 00:01+00') a
			  FROM generate_series(1, n)) x
$$;
\i test/regress_helpers.sql
CREATE FUNCTION pg_temp.show(instance pfid) RETURNS TABLE (risk_score numeric, risk_level prefactor.risk_level,
	max_classification prefactor.data_classification, status text, revision int) LANGUAGE sql AS $$
	SELECT prefactor.run_risk_score(i), i.risk_level, i.max_classification, i.status, r.revision
	  FROM prefactor.instances i LEFT JOIN prefactor.risk_profile_revisions r
		ON r.account_id = i.account_id AND r.id = i.risk_profile_revision_id
	 WHERE i.id = instance
$$;
SELECT pg_temp.start('support-bot') AS r1 \gset
SELECT st.name, risk_declared_categories(st.data_risk) AS categories, risk_declared_actions(st.data_risk) AS actions,
	   risk_classification(st.data_risk) AS classification,
	   risk_span_type_points(st.data_risk, r.category_weights, r.action_multipliers) AS points,
	   risk_type_points(st.id, i.risk_profile_revision_id) AS cached_points
  FROM instances i
  JOIN span_types st ON st.account_id = i.account_id AND st.schema_version_id = i.schema_version_id
  JOIN risk_profile_revisions r ON r.account_id = i.account_id AND r.id = i.risk_profile_revision_id
 WHERE i.id = :'r1'
 ORDER BY st.name;

------------------------------------------------------------------------------
-- The worked example, live: 12 a span, 36 for three, 41 with one of 5: Medium
------------------------------------------------------------------------------
SELECT * FROM pg_temp.show(:'r1');
SELECT * FROM pg_temp.span(:'r1', 'lookup');
SELECT * FROM pg_temp.show(:'r1');
-- spans of every status count
SELECT * FROM pg_temp.span(:'r1', 'lookup', 'failed');
SELECT * FROM pg_temp.span(:'r1', 'lookup', 'active');
SELECT * FROM pg_temp.show(:'r1');
-- spans without points (action outside the profile, no declared risk, undeclared type) add nothing
SELECT * FROM pg_temp.span(:'r1', 'notify', 'cancelled');
SELECT * FROM pg_temp.span(:'r1', 'chat', n => 2);
SELECT * FROM pg_temp.span(:'r1', 'mystery');
SELECT * FROM pg_temp.show(:'r1');
SELECT * FROM pg_temp.span(:'r1', 'pay');
SELECT * FROM pg_temp.show(:'r1');
SELECT prefactor_risk_level(41, risk_profile_revision_id) AS level_of_41,
	   prefactor_risk_level(19.99, risk_profile_revision_id) AS level_of_19_99,
	   prefactor_risk_level(50, risk_profile_revision_id) AS level_of_50,
	   prefactor_risk_level(100, risk_profile_revision_id) AS level_of_100,
	   risk_level(41, 20, 50, 100) AS plain
  FROM instances WHERE id = :'r1';

-- The aggregates over the same spans give the same score and a breakdown that sums to it.
SELECT risk_score(s.span_type_id, s.risk_profile_revision_id) AS score,
	   prefactor_risk_level(risk_score(s.span_type_id, s.risk_profile_revision_id), i.risk_profile_revision_id) AS level,
	   jsonb_pretty(risk_breakdown(s.span_type_id, s.risk_profile_revision_id)) AS breakdown
  FROM spans s JOIN instances i ON i.account_id = s.account_id AND i.id = s.instance_id
 WHERE i.id = :'r1'
 GROUP BY i.risk_profile_revision_id;
SELECT b -> 'total' AS total, (SELECT sum((t ->> 'points')::numeric) FROM jsonb_array_elements(b -> 'types') t) AS sum_of_points,
	   (SELECT sum((t ->> 'count')::int) FROM jsonb_array_elements(b -> 'types') t) AS sum_of_counts, b -> 'spans' AS spans
  FROM (SELECT risk_breakdown(s.span_type_id, s.risk_profile_revision_id) b
		  FROM spans s JOIN instances i ON i.account_id = s.account_id AND i.id = s.instance_id
		 WHERE i.id = :'r1') x;

------------------------------------------------------------------------------
-- Agents without a profile have null risk
------------------------------------------------------------------------------
SELECT pg_temp.start('no-profile-bot') AS r2 \gset
SELECT * FROM pg_temp.span(:'r2', 'lookup', n => 3);
SELECT * FROM pg_temp.show(:'r2');
SELECT risk_score(s.span_type_id, s.risk_profile_revision_id) AS score,
	   risk_breakdown(s.span_type_id, s.risk_profile_revision_id) AS breakdown
  FROM spans s JOIN instances i ON i.account_id = s.account_id AND i.id = s.instance_id
 WHERE i.id = :'r2';
-- no spans at all: null
SELECT risk_score(span_type_id, NULL) AS score, risk_breakdown(span_type_id, NULL) AS breakdown
  FROM spans WHERE false;

------------------------------------------------------------------------------
-- Revisions: editing adds a revision; earlier runs keep theirs
------------------------------------------------------------------------------
SELECT prefactor_update_risk_profile('acme', 'worked', category_weights => '{"personal_identifiers": 10}') AS new_revision;
SELECT prefactor_update_risk_profile('acme', 'worked', category_weights => '{"personal_identifiers": 10}') AS unchanged;
SELECT prefactor_update_risk_profile('acme', 'worked', terminate_at_level => 'none') AS still_unchanged;
SELECT revision, category_weights -> 'personal_identifiers' AS personal_identifiers
  FROM risk_profile_revisions ORDER BY revision;
SELECT pg_temp.start('support-bot') AS r3 \gset
SELECT * FROM pg_temp.span(:'r3', 'lookup', n => 3);
SELECT * FROM pg_temp.show(:'r3');
SELECT * FROM pg_temp.show(:'r1');

------------------------------------------------------------------------------
-- Agreed scope: declared categories or actions the profile does not include
------------------------------------------------------------------------------
SELECT agent, schema_version, span_type, risk_profile, risk_profile_revision, categories_outside, actions_outside
  FROM risk_scope_violations ORDER BY agent, span_type;

------------------------------------------------------------------------------
-- Alerts and termination: a profile that stops runs at high
------------------------------------------------------------------------------
SELECT prefactor_create_risk_profile('acme', 'strict', template => 'strict_gdpr',
	medium_threshold => 10, high_threshold => 20, critical_threshold => 40,
	terminate_at_level => 'high') IS NOT NULL AS created;
SELECT prefactor_assign_risk_profile('acme', 'support-bot', 'strict');
-- lookup under strict_gdpr: (8 + 6) x 1.0 = 14 a span
SELECT pg_temp.start('support-bot') AS r4 \gset
-- Another session LISTENs and records spans; its psql prints each notification
-- (process id and instance id masked). The second span reaches high and terminates.
\setenv PGDATABASE :DBNAME
\setenv PGHOST :HOST
\setenv PGPORT :PORT
\setenv PGUSER :USER
\setenv R4 :r4
\! psql -X -tA -c 'LISTEN prefactor_risk' -c "SELECT (prefactor.prefactor_record_span('$R4', 'lookup', '{}', started_at => '2024-01-01 00:01+00')).terminate" -c "SELECT (prefactor.prefactor_record_span('$R4', 'lookup', '{}', started_at => '2024-01-01 00:01+00')).terminate" 2>&1 | sed -E 's/PID [0-9]+/PID n/; s/[0-7][0-9a-z]{31}/<id>/g'
SELECT * FROM pg_temp.show(:'r4');
SELECT termination_reason, finished_at FROM instances WHERE id = :'r4';
-- the next span call gets the terminate signal with the reason, and stores nothing
SELECT span_id IS NULL AS no_span, terminate, reason FROM prefactor_record_span(:'r4', 'lookup', '{}');
SELECT count(*) AS spans FROM spans WHERE instance_id = :'r4';
-- a plain INSERT into the terminated run is refused (by the lifecycle guard)
SELECT pg_temp.try($$INSERT INTO prefactor.spans (account_id, instance_id, span_type)
					 SELECT account_id, id, 'lookup' FROM prefactor.instances WHERE id = '$$ || :'r4' || $$'$$);
-- Termination by risk closes the run's open spans as prefactor_terminate_run does: an open root
-- span is cancelled at the run's finish, later span calls answer the terminate signal and store
-- nothing, and a plain UPDATE of the closed span is refused.
SELECT pg_temp.start('support-bot') AS r8 \gset
SELECT span_id AS root FROM prefactor_start_span(:'r8', 'chat', '{}', started_at => '2024-01-01 00:00:30+00') \gset
SELECT (a).terminate FROM (SELECT prefactor_record_span(:'r8', 'lookup', '{}', parent_span => :'root',
	started_at => '2024-01-01 00:01+00') a FROM generate_series(1, 2)) x;
SELECT status, risk_score, risk_level FROM instances WHERE id = :'r8';
SELECT s.status, s.finished_at = i.finished_at AS closed_at_run_finish, s.result
  FROM spans s JOIN instances i ON i.id = s.instance_id WHERE s.id = :'root';
SELECT span_id = :'root' AS same_span, terminate, reason LIKE 'risk level high reached%' AS reason_given
  FROM prefactor_finish_span(:'root', 'complete', '{"late": true}');
SELECT status, result FROM spans WHERE id = :'root';
SELECT pg_temp.try($$UPDATE prefactor.spans SET status = 'complete', result = '{"late": true}', finished_at = now()
					 WHERE id = '$$ || :'root' || $$'$$);
SELECT status, spans_active, spans_pending, spans_cancelled FROM instance_summary WHERE instance_id = :'r8';
-- every rise notifies, also within one statement; without terminate_at_level the run goes on
SELECT prefactor_update_risk_profile('acme', 'strict', terminate_at_level => 'none') AS revision;
SELECT pg_temp.start('support-bot') AS r5 \gset
\setenv R5 :r5
\! psql -X -tA -c 'LISTEN prefactor_risk' -c "SELECT count((a).span_id) FROM (SELECT prefactor.prefactor_record_span('$R5', 'lookup', '{}', started_at => '2024-01-01 00:01+00') a FROM generate_series(1, 4)) x" 2>&1 | sed -E 's/PID [0-9]+/PID n/; s/[0-7][0-9a-z]{31}/<id>/g'
SELECT * FROM pg_temp.show(:'r5');

------------------------------------------------------------------------------
-- Deleting a profile keeps it for audit
------------------------------------------------------------------------------
SELECT prefactor_delete_risk_profile('acme', 'strict') AS deleted;
SELECT prefactor_delete_risk_profile('acme', 'strict') AS deleted_again;
SELECT name, deleted_at IS NOT NULL AS deleted,
	   (SELECT count(*) FROM risk_profile_revisions r WHERE r.risk_profile_id = p.id) AS revisions
  FROM risk_profiles p ORDER BY name;
SELECT a.name AS agent, p.name AS risk_profile FROM agents a LEFT JOIN risk_profiles p ON p.id = a.risk_profile_id ORDER BY 1;
SELECT prefactor_update_risk_profile('acme', 'strict', medium_threshold => 5);
SELECT prefactor_assign_risk_profile('acme', 'no-profile-bot', 'strict');
-- a new run of the agent whose profile is deleted is not scored
SELECT pg_temp.start('support-bot') AS r6 \gset
SELECT * FROM pg_temp.span(:'r6', 'lookup', n => 2);
SELECT * FROM pg_temp.show(:'r6');
-- ... while earlier runs keep their scores and revisions
SELECT * FROM pg_temp.show(:'r4');
SELECT * FROM pg_temp.show(:'r5');
-- a deleted profile is out of the agreed-scope view
SELECT count(*) AS scope_rows_for_deleted FROM risk_scope_violations WHERE risk_profile = 'strict';

------------------------------------------------------------------------------
-- Reconciliation: every run's stored live values equal the aggregates
------------------------------------------------------------------------------
SELECT count(*) AS runs,
	   count(*) FILTER (WHERE prefactor.run_risk_score(i) IS NOT DISTINCT FROM
						 CASE WHEN i.risk_profile_revision_id IS NULL THEN NULL ELSE coalesce(a.score, 0) END) AS score_matches,
	   count(*) FILTER (WHERE i.risk_level IS NOT DISTINCT FROM
						 prefactor_risk_level(coalesce(a.score, 0), i.risk_profile_revision_id)) AS level_matches,
	   count(*) FILTER (WHERE prefactor.run_risk_score(i) IS NOT DISTINCT FROM (a.breakdown ->> 'total')::numeric
						 OR a.breakdown IS NULL) AS breakdown_matches
  FROM instances i
  LEFT JOIN (SELECT s.account_id, s.instance_id,
					risk_score(s.span_type_id, s.risk_profile_revision_id) AS score,
					risk_breakdown(s.span_type_id, s.risk_profile_revision_id) AS breakdown
			   FROM spans s
			  GROUP BY 1, 2) a ON a.account_id = i.account_id AND a.instance_id = i.id;
-- each span carries its run's revision, and the span_risk view adds up to the same scores
SELECT count(*) AS spans,
	   count(*) FILTER (WHERE s.risk_profile_revision_id IS NOT DISTINCT FROM i.risk_profile_revision_id) AS same_revision
  FROM spans s JOIN instances i ON i.account_id = s.account_id AND i.id = s.instance_id;
SELECT count(*) AS scored_runs, count(*) FILTER (WHERE v.points = prefactor.run_risk_score(i)) AS view_matches
  FROM instances i
  JOIN (SELECT account_id, instance_id, sum(points) AS points FROM span_risk GROUP BY 1, 2) v
	ON v.account_id = i.account_id AND v.instance_id = i.id
 WHERE i.risk_profile_revision_id IS NOT NULL;

-- Per agent and per day, over runs with different revisions.
SELECT a.name AS agent, date_trunc('day', s.started_at) AS day,
	   risk_score(s.span_type_id, s.risk_profile_revision_id) AS score,
	   risk_breakdown(s.span_type_id, s.risk_profile_revision_id) -> 'types' -> 0 AS top_type
  FROM spans s JOIN instances i ON i.account_id = s.account_id AND i.id = s.instance_id
  JOIN agents a ON a.account_id = i.account_id AND a.id = i.agent_id
 GROUP BY 1, 2 ORDER BY 1, 2;

------------------------------------------------------------------------------
-- Parallel aggregation: partial aggregates in workers, combined in the leader
------------------------------------------------------------------------------
CREATE TABLE public.risk_bulk AS
SELECT (g % 97) AS grp, s.span_type_id, s.risk_profile_revision_id
  FROM spans s, generate_series(1, 4000) g
 WHERE s.risk_profile_revision_id IS NOT NULL;
ANALYZE risk_bulk;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT grp, risk_score(span_type_id, risk_profile_revision_id),
	   risk_breakdown(span_type_id, risk_profile_revision_id)
  FROM risk_bulk GROUP BY grp;
EXPLAIN (COSTS OFF)
SELECT risk_score(span_type_id, risk_profile_revision_id) FROM risk_bulk;
CREATE TEMP TABLE parallel_result AS
SELECT grp, risk_score(span_type_id, risk_profile_revision_id) AS score,
	   risk_breakdown(span_type_id, risk_profile_revision_id) AS breakdown
  FROM risk_bulk GROUP BY grp;
SELECT risk_score(span_type_id, risk_profile_revision_id) AS parallel_total FROM risk_bulk;
RESET parallel_leader_participation;
SET max_parallel_workers_per_gather = 0;
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE p.score = s.score AND p.breakdown = s.breakdown) AS equal_to_serial
  FROM parallel_result p
  JOIN (SELECT grp, risk_score(span_type_id, risk_profile_revision_id) AS score,
			   risk_breakdown(span_type_id, risk_profile_revision_id) AS breakdown
		  FROM risk_bulk GROUP BY grp) s USING (grp);
SELECT risk_score(span_type_id, risk_profile_revision_id) AS serial_total FROM risk_bulk;
RESET ALL;
DROP TABLE public.risk_bulk;

-- The same with spans of runs without a profile and of undeclared types mixed in.
SET search_path = prefactor, public;
CREATE TABLE public.risk_bulk AS
SELECT (g % 53) AS grp, s.span_type_id, s.risk_profile_revision_id
  FROM spans s, generate_series(1, 2000) g;
ANALYZE risk_bulk;
SELECT count(*) FILTER (WHERE risk_profile_revision_id IS NULL) > 0 AS unscored_spans,
	   count(*) FILTER (WHERE span_type_id IS NULL) > 0 AS undeclared_spans
  FROM risk_bulk;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
CREATE TEMP TABLE parallel_result_all AS
SELECT grp, risk_score(span_type_id, risk_profile_revision_id) AS score,
	   risk_breakdown(span_type_id, risk_profile_revision_id) AS breakdown
  FROM risk_bulk GROUP BY grp;
RESET parallel_leader_participation;
SET max_parallel_workers_per_gather = 0;
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE p.score = s.score AND p.breakdown = s.breakdown) AS equal_to_serial
  FROM parallel_result_all p
  JOIN (SELECT grp, risk_score(span_type_id, risk_profile_revision_id) AS score,
			   risk_breakdown(span_type_id, risk_profile_revision_id) AS breakdown
		  FROM risk_bulk GROUP BY grp) s USING (grp);
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE public.risk_bulk;

------------------------------------------------------------------------------
-- The partial state's text form (Citus ships it between nodes): a group's state
-- reads back to the same score and breakdown; malformed states are refused
------------------------------------------------------------------------------
CREATE AGGREGATE pg_temp.risk_state_of(pfid, pfid) (SFUNC = risk_agg_trans, STYPE = risk_agg_state);
CREATE TEMP TABLE risk_states AS
SELECT instance_id, pg_temp.risk_state_of(span_type_id, risk_profile_revision_id)::text AS state,
	   risk_score(span_type_id, risk_profile_revision_id) AS score,
	   risk_breakdown(span_type_id, risk_profile_revision_id) AS breakdown
  FROM spans GROUP BY instance_id;
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE risk_agg_score(state::risk_agg_state) IS NOT DISTINCT FROM score
						  AND risk_agg_breakdown(state::risk_agg_state) = breakdown) AS read_back,
	   count(*) FILTER (WHERE state::risk_agg_state::text = state) AS same_text
  FROM risk_states;
-- one span of no declared type in a run without a profile; an empty state
SELECT risk_agg_score('\x00010001') AS score, risk_agg_breakdown('\x00010001') AS breakdown;
SELECT risk_agg_score('\x0000') AS score, risk_agg_breakdown('\x0000') AS breakdown;
SELECT '\x'::risk_agg_state;
SELECT '\x00010000'::risk_agg_state;
SELECT '\x00010401'::risk_agg_state;
SELECT '\x0001000101'::risk_agg_state;
SELECT '\x00010201'::risk_agg_state;
SELECT '\x000100ffffffffffffffffff01'::risk_agg_state;

------------------------------------------------------------------------------
-- Fractional points: the breakdown ranks them with whole ones
------------------------------------------------------------------------------
SELECT prefactor_create_risk_profile('acme', 'fractional',
	category_weights => '{"personal_identifiers": 8, "contact_information": 4, "financial_information": 5}',
	action_multipliers => '{"read_data": 0.35, "financial_transactions": 1}') IS NOT NULL AS created;
SELECT prefactor_register_agent('acme', 'fraction-bot', risk_profile => 'fractional') IS NOT NULL AS agent_created;
-- lookup: 12 x 0.35 = 4.2 a span; pay: 5
SELECT pg_temp.start('fraction-bot') AS r7 \gset
SELECT * FROM pg_temp.span(:'r7', 'lookup');
SELECT * FROM pg_temp.span(:'r7', 'pay');
SELECT * FROM pg_temp.span(:'r7', 'chat', n => 2);
SELECT risk_score(span_type_id, risk_profile_revision_id) AS score,
	   risk_breakdown(span_type_id, risk_profile_revision_id) AS breakdown
  FROM spans WHERE instance_id = :'r7';
SELECT * FROM pg_temp.span(:'r7', 'lookup');
SELECT risk_score(span_type_id, risk_profile_revision_id) AS score,
	   risk_breakdown(span_type_id, risk_profile_revision_id) AS breakdown
  FROM spans WHERE instance_id = :'r7';
SELECT * FROM pg_temp.show(:'r7');

------------------------------------------------------------------------------
-- Live scoring writes the run row only when its level or classification rises:
-- a span that adds points without raising either leaves the row as it was (the
-- running total is on the span), and the finish stores the final score.
------------------------------------------------------------------------------
SELECT pg_temp.start('fraction-bot') AS r9 \gset
SELECT * FROM pg_temp.span(:'r9', 'lookup');
SELECT xmin::text AS run_version FROM instances WHERE id = :'r9' \gset
SELECT * FROM pg_temp.span(:'r9', 'lookup');
SELECT i.xmin::text = :'run_version' AS run_row_untouched, i.risk_score AS stored, run_risk_score(i) AS exact,
	   s.risk_score AS in_summary, i.risk_level
  FROM instances i JOIN instance_summary s ON s.instance_id = i.id WHERE i.id = :'r9';
SELECT risk_total, raised_run_risk FROM spans WHERE instance_id = :'r9' ORDER BY risk_total;
SELECT prefactor_finish_run(:'r9');
SELECT risk_score AS final_score, risk_level FROM instances WHERE id = :'r9';

------------------------------------------------------------------------------
-- Re-created in the same session, every cache (account partitions, span types,
-- compiled schemas, risk points, live scoring's plan and index, saved plans)
-- starts afresh: each registered its own invalidation.
------------------------------------------------------------------------------
SELECT account_of(:'r9') IS NOT NULL AS known_before, risk_type_points(span_type_id, risk_profile_revision_id) AS points_before
  FROM spans WHERE instance_id = :'r9' LIMIT 1;
SET client_min_messages = warning;
DROP EXTENSION prefactor CASCADE;
CREATE EXTENSION prefactor;
RESET client_min_messages;
SELECT prefactor_create_account('again') IS NOT NULL AS account_created;
SELECT prefactor_create_environment('again', 'production') IS NOT NULL AS env_created;
SELECT prefactor_create_risk_profile('again', 'p', medium_threshold => 5, high_threshold => 10, critical_threshold => 20,
	terminate_at_level => 'high') IS NOT NULL AS profile_created;
SELECT prefactor_register_agent('again', 'bot', risk_profile => 'p') IS NOT NULL AS agent_created;
SELECT prefactor_start_run('again', 'bot', 'production', '{"external_identifier": "v1"}',
	'{"span_type_schemas": [{"name": "lookup", "params_schema": {"type": "object", "required": ["q"]},
	  "data_risk": {"action_profile": {"read_data": "allowed"}, "params_data_categories": {"personal_identifiers": "included"}}}]}') AS r10 \gset
SELECT terminate FROM prefactor_record_span(:'r10', 'lookup', '{"q": 1}');
SELECT terminate, reason IS NOT NULL AS reason_given FROM prefactor_record_span(:'r10', 'lookup', '{}');
SELECT validation, payload_conforms, risk_total FROM spans WHERE instance_id = :'r10' ORDER BY risk_total;
SELECT status, risk_score, risk_level FROM instances WHERE id = :'r10';
SELECT account_of(:'r10') = (SELECT account_id FROM accounts WHERE name = 'again') AS account_found;

-- Multipliers other than 1: a span type declaring two categories and two actions scores the sum of
-- every weight x multiplier pair: (8 + 5) x (2.5 + 1.5) = 52 a span; two spans make 104 (critical).
SELECT prefactor_create_risk_profile('again', 'multiply',
	category_weights => '{"personal_identifiers": 8, "financial_information": 5}',
	action_multipliers => '{"financial_transactions": 2.5, "read_data": 1.5}') IS NOT NULL AS created;
SELECT prefactor_register_agent('again', 'payer', risk_profile => 'multiply') IS NOT NULL AS agent_created;
SELECT prefactor_start_run('again', 'payer', 'production', '{"external_identifier": "v1"}',
	'{"span_type_schemas": [{"name": "transfer", "data_risk": {
		"action_profile": {"financial_transactions": "allowed", "read_data": "allowed"},
		"params_data_categories": {"personal_identifiers": "included", "financial_information": "included"}}}]}') AS r11 \gset
SELECT (prefactor_record_span(:'r11', 'transfer', '{}')).terminate, (prefactor_record_span(:'r11', 'transfer', '{}')).terminate;
SELECT risk_type_points(span_type_id, risk_profile_revision_id) AS points, risk_total FROM spans
 WHERE instance_id = :'r11' ORDER BY risk_total;
SELECT run_risk_score(i) AS score, risk_level FROM instances i WHERE id = :'r11';
SELECT risk_score(span_type_id, risk_profile_revision_id) AS aggregate FROM spans WHERE instance_id = :'r11';

-- A replayed span (INSERT ... ON CONFLICT DO NOTHING of ids already stored) is skipped after its
-- BEFORE triggers ran, so it raises nothing: one stored span of 8 points leaves the run at medium,
-- where counting the replay would reach high and terminate it.
SELECT prefactor_create_risk_profile('again', 'replay',
	category_weights => '{"personal_identifiers": 8}', action_multipliers => '{"read_data": 1}',
	medium_threshold => 5, high_threshold => 12, critical_threshold => 100,
	terminate_at_level => 'high') IS NOT NULL AS created;
SELECT prefactor_register_agent('again', 'replayer', risk_profile => 'replay') IS NOT NULL AS agent_created;
SELECT prefactor_start_run('again', 'replayer', 'production', '{"external_identifier": "v1"}',
	'{"span_type_schemas": [{"name": "lookup", "data_risk": {"action_profile": {"read_data": "allowed"},
	  "params_data_categories": {"personal_identifiers": "included"}}}]}') AS r12 \gset
CREATE TEMP TABLE replayed AS
SELECT account_id, pfid_generate(pfid_partition(account_id)) AS id, id AS instance_id FROM instances WHERE id = :'r12';
INSERT INTO spans (account_id, id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT account_id, id, instance_id, 'lookup', 'complete', '{}', now(), now() FROM replayed;
INSERT INTO spans (account_id, id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT account_id, id, instance_id, 'lookup', 'complete', '{}', now(), now() FROM replayed
ON CONFLICT DO NOTHING;
SELECT status, risk_score, risk_level, run_risk_score(i) AS live FROM instances i WHERE id = :'r12';
SELECT count(*) AS spans, risk_score(span_type_id, risk_profile_revision_id) AS aggregate FROM spans WHERE instance_id = :'r12';

-- A raise is written through the table AM, or by a statement in a repeatable-read transaction
-- (src/core/row_write.c): both ways store the same run row. Two spans of one INSERT raise each
-- run to medium and then to high, which terminates it.
SELECT prefactor_start_run('again', 'replayer', 'production', '{"external_identifier": "v1"}',
	'{"span_type_schemas": [{"name": "lookup", "data_risk": {"action_profile": {"read_data": "allowed"},
	  "params_data_categories": {"personal_identifiers": "included"}}}]}') AS r13 \gset
SELECT prefactor_start_run('again', 'replayer', 'production', '{"external_identifier": "v1"}',
	'{"span_type_schemas": [{"name": "lookup", "data_risk": {"action_profile": {"read_data": "allowed"},
	  "params_data_categories": {"personal_identifiers": "included"}}}]}') AS r14 \gset
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT account_id, id, 'lookup', 'complete', '{}', now(), now() FROM instances, generate_series(1, 2) WHERE id = :'r13';
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT account_id, id, 'lookup', 'complete', '{}', now(), now() FROM instances, generate_series(1, 2) WHERE id = :'r14';
COMMIT;
SELECT i.id = :'r13' AS read_committed, i.status, i.risk_score, i.risk_level, i.max_classification,
	   i.termination_reason, i.finished_at >= i.started_at AS finished, count(s.*) FILTER (WHERE s.raised_run_risk) AS raises,
	   risk_score(s.span_type_id, s.risk_profile_revision_id) AS aggregate
  FROM instances i JOIN spans s ON s.account_id = i.account_id AND s.instance_id = i.id
 WHERE i.id IN (:'r13', :'r14')
 GROUP BY i.id, i.status, i.risk_score, i.risk_level, i.max_classification, i.termination_reason, i.finished_at, i.started_at
 ORDER BY 1 DESC;

-- Raises through the table AM keep every trigger of the run row: a second raise of a run in the
-- same transaction does not check the run's foreign keys again (its first raise did, and a
-- raise sets no key column), but a DBA's AFTER UPDATE trigger on instances still sees every
-- raise, in the same statement and in later ones.
SELECT prefactor_create_risk_profile('again', 'steps',
	category_weights => '{"personal_identifiers": 3}', action_multipliers => '{"read_data": 1}',
	medium_threshold => 3, high_threshold => 6, critical_threshold => 12) IS NOT NULL AS created;
SELECT prefactor_register_agent('again', 'stepper', risk_profile => 'steps') IS NOT NULL AS agent_created;
CREATE TEMP TABLE step_runs AS
SELECT prefactor_start_run('again', 'stepper', 'production', '{"external_identifier": "v1"}',
	'{"span_type_schemas": [{"name": "lookup", "data_risk": {"action_profile": {"read_data": "allowed"},
	  "params_data_categories": {"personal_identifiers": "included"}}}]}') AS id
  FROM generate_series(1, 3);
CREATE TEMP TABLE run_updates (id pfid, risk_level text);
GRANT INSERT ON run_updates TO PUBLIC;
CREATE FUNCTION pg_temp.seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO run_updates VALUES (NEW.id, NEW.risk_level);
	RETURN NULL;
END $$;
CREATE TRIGGER zz_seen AFTER UPDATE ON instances FOR EACH ROW EXECUTE FUNCTION pg_temp.seen();
BEGIN;
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT i.account_id, i.id, 'lookup', 'complete', '{}', now(), now()
  FROM generate_series(1, 3) g, step_runs b JOIN instances i ON i.id = b.id;
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT i.account_id, i.id, 'lookup', 'complete', '{}', now(), now() FROM step_runs b JOIN instances i ON i.id = b.id;
COMMIT;
DROP TRIGGER zz_seen ON instances;
SELECT count(DISTINCT s.instance_id) AS runs, count(*) FILTER (WHERE s.raised_run_risk) AS raises,
	   (SELECT count(*) FROM run_updates WHERE id IN (SELECT id FROM step_runs)) AS updates_seen,
	   (SELECT string_agg(DISTINCT risk_level, ', ') FROM run_updates) AS levels_seen
  FROM spans s WHERE s.instance_id IN (SELECT id FROM step_runs);

-- Not when a DBA's BEFORE UPDATE trigger on instances could change a key: then every raise's keys
-- are checked as PostgreSQL checks them. A trigger that points the run at a missing environment
-- on its second raise (to high, in the same statement as the first) is refused.
CREATE FUNCTION pg_temp.repoint_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.risk_level = 'high' THEN NEW.environment_id := pfid_generate(pfid_partition(NEW.account_id)); END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER zz_repoint_run BEFORE UPDATE ON instances FOR EACH ROW EXECUTE FUNCTION pg_temp.repoint_run();
SELECT prefactor_start_run('again', 'stepper', 'production', '{"external_identifier": "v1"}',
	'{"span_type_schemas": [{"name": "lookup", "data_risk": {"action_profile": {"read_data": "allowed"},
	  "params_data_categories": {"personal_identifiers": "included"}}}]}') AS repointed_run \gset
\set VERBOSITY terse
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT i.account_id, i.id, 'lookup', 'complete', '{}', now(), now()
  FROM generate_series(1, 2) g, instances i WHERE i.id = :'repointed_run';
\set VERBOSITY default
DROP TRIGGER zz_repoint_run ON instances;
SELECT count(*) AS spans_of_refused_statement FROM spans WHERE instance_id = :'repointed_run';

-- Within one statement or transaction, a run's previous total is the one this subtransaction
-- stored last (src/risk/risk_totals.c), trusted only once its span is seen stored and while
-- every span stored since went through the guard. Each case below leaves every total exact:
-- the runs' largest totals equal the aggregates over their stored spans.
SELECT prefactor_create_risk_profile('again', 'bulk',
	category_weights => '{"personal_identifiers": 3}', action_multipliers => '{"read_data": 1}',
	medium_threshold => 1000, high_threshold => 2000, critical_threshold => 3000) IS NOT NULL AS created;
SELECT prefactor_register_agent('again', 'bulker', risk_profile => 'bulk') IS NOT NULL AS agent_created;
CREATE TEMP TABLE bulk_runs AS
SELECT prefactor_start_run('again', 'bulker', 'production', '{"external_identifier": "v1"}',
	'{"span_type_schemas": [{"name": "lookup", "data_risk": {"action_profile": {"read_data": "allowed"},
	  "params_data_categories": {"personal_identifiers": "included"}}}, {"name": "chat"}]}') AS id
  FROM generate_series(1, 3);
CREATE FUNCTION pg_temp.bulk_exact() RETURNS TABLE (runs bigint, spans bigint, exact bigint) LANGUAGE sql AS $$
	SELECT count(*), sum(n), count(*) FILTER (WHERE top = aggregate AND live = aggregate)
	  FROM (SELECT s.instance_id, count(*) AS n, max(s.risk_total) AS top,
				   risk_score(s.span_type_id, s.risk_profile_revision_id) AS aggregate,
				   (SELECT run_risk_score(i) FROM prefactor.instances i WHERE i.id = s.instance_id) AS live
			  FROM prefactor.spans s WHERE s.instance_id IN (SELECT id FROM bulk_runs) GROUP BY 1) t
$$;
-- interleaved runs, scored and unscored spans, in one statement
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT i.account_id, i.id, CASE WHEN g % 3 = 0 THEN 'chat' ELSE 'lookup' END, 'complete', '{}', now(), now()
  FROM generate_series(1, 30) g, bulk_runs b JOIN instances i ON i.id = b.id;
SELECT * FROM pg_temp.bulk_exact();
-- the same without remembered totals (they need pgstat's insert counts): every span reads the
-- index, which sees the spans before it in the same statement
SET track_counts = off;
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT i.account_id, i.id, CASE WHEN g % 3 = 0 THEN 'chat' ELSE 'lookup' END, 'complete', '{}', now(), now()
  FROM generate_series(1, 30) g, bulk_runs b JOIN instances i ON i.id = b.id;
RESET track_counts;
SELECT * FROM pg_temp.bulk_exact();
-- a replay skipped by ON CONFLICT DO NOTHING amid new spans, in one transaction
BEGIN;
CREATE TEMP TABLE bulk_ids AS SELECT i.account_id, pfid_generate(pfid_partition(i.account_id)) AS id, i.id AS instance_id
  FROM bulk_runs b JOIN instances i ON i.id = b.id;
INSERT INTO spans (account_id, id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT account_id, id, instance_id, 'lookup', 'complete', '{}', now(), now() FROM bulk_ids;
INSERT INTO spans (account_id, id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT account_id, CASE WHEN g = 1 THEN id END, instance_id, 'lookup', 'complete', '{}', now(), now()
  FROM bulk_ids, generate_series(1, 4) g ORDER BY g
ON CONFLICT DO NOTHING;
COMMIT;
SELECT * FROM pg_temp.bulk_exact();
-- a DBA's BEFORE trigger that skips every other span
CREATE FUNCTION pg_temp.skip_some() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.payload ? 'skip' THEN RETURN NULL; END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER zz_skip_some BEFORE INSERT ON spans FOR EACH ROW EXECUTE FUNCTION pg_temp.skip_some();
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT i.account_id, i.id, 'lookup', 'complete', CASE WHEN g % 2 = 0 THEN '{"skip": true}' ELSE '{}' END::jsonb, now(), now()
  FROM generate_series(1, 10) g, bulk_runs b JOIN instances i ON i.id = b.id;
DROP TRIGGER zz_skip_some ON spans;
SELECT * FROM pg_temp.bulk_exact();
-- spans of a savepoint rolled back count for nothing
BEGIN;
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT i.account_id, i.id, 'lookup', 'complete', '{}', now(), now() FROM bulk_runs b JOIN instances i ON i.id = b.id;
SAVEPOINT s;
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT i.account_id, i.id, 'lookup', 'complete', '{}', now(), now() FROM generate_series(1, 5), bulk_runs b JOIN instances i ON i.id = b.id;
ROLLBACK TO SAVEPOINT s;
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT i.account_id, i.id, 'lookup', 'complete', '{}', now(), now() FROM bulk_runs b JOIN instances i ON i.id = b.id;
COMMIT;
SELECT * FROM pg_temp.bulk_exact();
-- a span stored without the guard (replica role: triggers off) between guarded ones: the next
-- guarded span continues from its total, as it would from the index
BEGIN;
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT i.account_id, i.id, 'lookup', 'complete', '{}', now(), now() FROM bulk_runs b JOIN instances i ON i.id = b.id;
SET LOCAL session_replication_role = replica;
INSERT INTO spans (account_id, id, instance_id, span_type, status, payload, started_at, finished_at, risk_total)
SELECT i.account_id, pfid_generate(pfid_partition(i.account_id)), i.id, 'manual', 'complete', '{}', now(), now(), 500
  FROM bulk_runs b JOIN instances i ON i.id = b.id;
SET LOCAL session_replication_role = origin;
INSERT INTO spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT i.account_id, i.id, 'lookup', 'complete', '{}', now(), now() FROM bulk_runs b JOIN instances i ON i.id = b.id;
COMMIT;
SELECT count(*) AS runs, count(*) FILTER (WHERE top = 503) AS continued_from_500
  FROM (SELECT instance_id, max(risk_total) AS top FROM spans WHERE instance_id IN (SELECT id FROM bulk_runs) GROUP BY 1) t;

------------------------------------------------------------------------------
-- A breakdown has one line per span type: a type met twice in a group is one
-- line, whether the group has a handful of lines (merged by a scan) or more
-- than 16 (merged after sorting by name)
------------------------------------------------------------------------------
CREATE TEMP TABLE breakdown_types AS SELECT pfid_generate(1) AS t, g FROM generate_series(1, 20) g;
SELECT jsonb_array_length(b -> 'types') AS lines, b -> 'spans' AS spans,
	   (SELECT count(*) FROM jsonb_array_elements(b -> 'types') x WHERE (x ->> 'count')::int = 2) AS met_twice
  FROM (SELECT risk_breakdown(t, NULL) b
		  FROM (SELECT t FROM breakdown_types UNION ALL SELECT t FROM breakdown_types WHERE g <= 10) s) q;
SELECT jsonb_array_length(b -> 'types') AS lines, b -> 'spans' AS spans,
	   (SELECT count(*) FROM jsonb_array_elements(b -> 'types') x WHERE (x ->> 'count')::int = 2) AS met_twice
  FROM (SELECT risk_breakdown(t, NULL) b
		  FROM (SELECT t FROM breakdown_types WHERE g <= 5 UNION ALL SELECT t FROM breakdown_types WHERE g <= 3) s) q;
