-- Risk scoring: profiles, revisions, live scores, aggregates, scope, termination.
SET search_path = prefactor, public;
\set VERBOSITY terse

-- Fixed ids so that notification payloads are deterministic.
INSERT INTO accounts (account_id, partition, name)
VALUES (pfid_build(1700000000000, 41, '\x00000000000000000001'), 41, 'acme');
INSERT INTO environments (account_id, name) SELECT account_id, 'production' FROM accounts;
INSERT INTO agents (account_id, name) SELECT account_id, 'support-bot' FROM accounts;
INSERT INTO agents (account_id, name) SELECT account_id, 'no-profile-bot' FROM accounts;

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
SELECT prefactor_create_risk_profile('acme', 'bad', category_weights => '{"shoe_size": 3}');
SELECT prefactor_create_risk_profile('acme', 'bad', medium_threshold => 50, high_threshold => 50, critical_threshold => 100);
\set VERBOSITY terse
-- Direct inserts are completed and checked the same way; revisions never change.
INSERT INTO risk_profile_revisions (account_id, risk_profile_id, revision, category_weights, medium_threshold, high_threshold, critical_threshold)
SELECT account_id, id, 9, '{"minors_data": 12}', 1, 2, 3 FROM risk_profiles WHERE name = 'worked';
UPDATE risk_profile_revisions SET medium_threshold = 1;
SELECT count(*) AS profiles_after_errors FROM risk_profiles;

SELECT prefactor_assign_risk_profile('acme', 'support-bot', 'worked');
SELECT prefactor_assign_risk_profile('acme', 'support-bot', 'missing');
SELECT prefactor_assign_risk_profile('acme', 'ghost-bot', 'worked');

------------------------------------------------------------------------------
-- A schema version whose span types declare their data risk
------------------------------------------------------------------------------
INSERT INTO activity_schema_versions (account_id, agent_id, number, content, content_digest)
SELECT account_id, id, 1, '{"span_type_schemas": []}', '\x01' FROM agents;
INSERT INTO span_types (account_id, schema_version_id, name, data_risk)
SELECT v.account_id, v.id, t.name, t.data_risk::jsonb
  FROM activity_schema_versions v,
	   (VALUES
		-- identifiers and contacts (contacts in params and result count once), read allowed: 8 + 4 = 12
		('lookup', '{"action_profile": {"read_data": "allowed", "update_data": "disallowed", "create_data": "unknown"},
					"params_data_categories": {"classification": "confidential", "personal_identifiers": "included",
											   "contact_information": "included", "health_and_medical": "excluded"},
					"result_data_categories": {"classification": "internal", "contact_information": "included",
											   "location_and_tracking": "unknown"}}'),
		-- financial information under financial transactions: 5 x 1 = 5
		('pay', '{"action_profile": {"financial_transactions": "allowed"},
				 "params_data_categories": {"financial_information": "included"},
				 "result_data_categories": {"classification": "restricted"}}'),
		-- external communication and genetic data, both outside the profile: 0
		('notify', '{"action_profile": {"external_communication": "allowed", "create_data": "disallowed"},
					"params_data_categories": {"contact_information": "included", "gdpr_genetic_data": "included"}}'),
		-- no declared risk
		('chat', NULL)) t(name, data_risk);
SELECT st.name, risk_declared_categories(st.data_risk) AS categories, risk_declared_actions(st.data_risk) AS actions,
	   risk_classification(st.data_risk) AS classification,
	   risk_span_type_points(st.data_risk, r.category_weights, r.action_multipliers) AS points
  FROM span_types st JOIN activity_schema_versions v ON v.id = st.schema_version_id
  JOIN agents a ON a.id = v.agent_id AND a.name = 'support-bot'
  JOIN risk_profile_revisions r ON r.risk_profile_id = a.risk_profile_id
 ORDER BY st.name;

INSERT INTO agent_versions (account_id, agent_id, schema_version_id, external_identifier, metadata, metadata_digest)
SELECT account_id, agent_id, id, 'v1', '{"external_identifier": "v1"}', '\x01' FROM activity_schema_versions;

-- A run of an agent: fixed id n, scored under the agent's latest profile revision.
CREATE FUNCTION public.risk_test_run(agent text, n int) RETURNS pfid LANGUAGE sql SET search_path = prefactor, public AS $$
	INSERT INTO prefactor.instances (account_id, id, agent_id, version_id, schema_version_id, environment_id,
									 status, started_at, risk_profile_revision_id, risk_score, risk_level)
	SELECT v.account_id, prefactor.pfid_build(1700000000000 + n, 41, decode(lpad(to_hex(n), 20, '0'), 'hex')),
		   v.agent_id, v.id, v.schema_version_id, e.id, 'active', '2024-01-01 00:00+00',
		   r.id, CASE WHEN r.id IS NOT NULL THEN 0 END, CASE WHEN r.id IS NOT NULL THEN 'low'::prefactor.risk_level END
	  FROM prefactor.agent_versions v
	  JOIN prefactor.agents a ON a.account_id = v.account_id AND a.id = v.agent_id AND a.name = agent
	  JOIN prefactor.environments e ON e.account_id = v.account_id
	  LEFT JOIN prefactor.risk_profiles p ON p.account_id = a.account_id AND p.id = a.risk_profile_id AND p.deleted_at IS NULL
	  LEFT JOIN LATERAL (SELECT x.id FROM prefactor.risk_profile_revisions x
						  WHERE x.account_id = p.account_id AND x.risk_profile_id = p.id
						  ORDER BY x.revision DESC LIMIT 1) r ON true
	RETURNING id
$$;
-- A span of a type of its run's schema version (null span_type_id if undeclared).
CREATE FUNCTION public.risk_test_span(run int, span_type text, status text DEFAULT 'complete', n int DEFAULT 1)
RETURNS void LANGUAGE sql SET search_path = prefactor, public AS $$
	INSERT INTO prefactor.spans (account_id, instance_id, span_type, span_type_id, status, started_at, finished_at)
	SELECT i.account_id, i.id, risk_test_span.span_type, st.id, risk_test_span.status, '2024-01-01 00:01+00',
		   CASE WHEN risk_test_span.status NOT IN ('pending', 'active') THEN timestamptz '2024-01-01 00:02+00' END
	  FROM prefactor.instances i
	  LEFT JOIN prefactor.span_types st
		ON st.account_id = i.account_id AND st.schema_version_id = i.schema_version_id
	   AND st.name = risk_test_span.span_type
	 CROSS JOIN generate_series(1, n)
	 WHERE i.id = prefactor.pfid_build(1700000000000 + run, 41, decode(lpad(to_hex(run), 20, '0'), 'hex'))
$$;
CREATE FUNCTION public.risk_test_show(n int) RETURNS TABLE (risk_score numeric, risk_level prefactor.risk_level,
	max_classification prefactor.data_classification, status text, revision int) LANGUAGE sql AS $$
	SELECT i.risk_score, i.risk_level, i.max_classification, i.status, r.revision
	  FROM prefactor.instances i LEFT JOIN prefactor.risk_profile_revisions r
		ON r.account_id = i.account_id AND r.id = i.risk_profile_revision_id
	 WHERE i.id = prefactor.pfid_build(1700000000000 + n, 41, decode(lpad(to_hex(n), 20, '0'), 'hex'))
$$;

------------------------------------------------------------------------------
-- The worked example, live: 12 a span, 36 for three, 41 with one of 5: Medium
------------------------------------------------------------------------------
\set run1 'risk_test_run(''support-bot'', 1)'
SELECT :run1 IS NOT NULL AS registered;
\set r1 'pfid_build(1700000000001, 41, ''\\x00000000000000000001'')'
SELECT * FROM risk_test_show(1);
SELECT risk_test_span(1, 'lookup');
SELECT * FROM risk_test_show(1);
SELECT risk_test_span(1, 'lookup', 'failed');
SELECT risk_test_span(1, 'lookup', 'active');
SELECT * FROM risk_test_show(1);
-- spans without points (excluded action, no declared risk, undeclared type) add nothing
SELECT risk_test_span(1, 'notify', 'cancelled');
SELECT risk_test_span(1, 'chat', n => 2);
SELECT risk_test_span(1, 'mystery');
SELECT * FROM risk_test_show(1);
SELECT risk_test_span(1, 'pay');
SELECT * FROM risk_test_show(1);
SELECT prefactor_risk_level(41, risk_profile_revision_id) AS level_of_41,
	   prefactor_risk_level(19.99, risk_profile_revision_id) AS level_of_19_99,
	   prefactor_risk_level(50, risk_profile_revision_id) AS level_of_50,
	   prefactor_risk_level(100, risk_profile_revision_id) AS level_of_100,
	   risk_level(41, 20, 50, 100) AS plain
  FROM instances WHERE id = :r1;

-- The aggregates over the same spans give the same score and a breakdown that sums to it.
SELECT risk_score(s.span_type_id, i.risk_profile_revision_id) AS score,
	   prefactor_risk_level(risk_score(s.span_type_id, i.risk_profile_revision_id), i.risk_profile_revision_id) AS level,
	   jsonb_pretty(risk_breakdown(s.span_type, s.span_type_id, i.risk_profile_revision_id)) AS breakdown
  FROM spans s JOIN instances i ON i.account_id = s.account_id AND i.id = s.instance_id
 WHERE i.id = :r1
 GROUP BY i.risk_profile_revision_id;
SELECT b -> 'total' AS total, (SELECT sum((t ->> 'points')::numeric) FROM jsonb_array_elements(b -> 'types') t) AS sum_of_points,
	   (SELECT sum((t ->> 'count')::int) FROM jsonb_array_elements(b -> 'types') t) AS sum_of_counts, b -> 'spans' AS spans
  FROM (SELECT risk_breakdown(s.span_type, s.span_type_id, i.risk_profile_revision_id) b
		  FROM spans s JOIN instances i ON i.account_id = s.account_id AND i.id = s.instance_id
		 WHERE i.id = :r1) x;
SELECT risk_type_points(st.id, i.risk_profile_revision_id) AS lookup_points
  FROM instances i JOIN span_types st ON st.schema_version_id = i.schema_version_id AND st.name = 'lookup'
 WHERE i.id = :r1;

------------------------------------------------------------------------------
-- Agents without a profile have null risk
------------------------------------------------------------------------------
SELECT risk_test_run('no-profile-bot', 2) IS NOT NULL AS registered;
\set r2 'pfid_build(1700000000002, 41, ''\\x00000000000000000002'')'
SELECT risk_test_span(2, 'lookup', n => 3);
SELECT * FROM risk_test_show(2);
SELECT risk_score(s.span_type_id, i.risk_profile_revision_id) AS score,
	   risk_breakdown(s.span_type, s.span_type_id, i.risk_profile_revision_id) AS breakdown
  FROM spans s JOIN instances i ON i.account_id = s.account_id AND i.id = s.instance_id
 WHERE i.id = :r2;
-- no spans at all: null
SELECT risk_score(span_type_id, NULL) AS score, risk_breakdown(span_type, span_type_id, NULL) AS breakdown
  FROM spans WHERE false;

------------------------------------------------------------------------------
-- Revisions: editing adds a revision; earlier runs keep theirs
------------------------------------------------------------------------------
SELECT prefactor_update_risk_profile('acme', 'worked', category_weights => '{"personal_identifiers": 10}') AS new_revision;
SELECT prefactor_update_risk_profile('acme', 'worked', category_weights => '{"personal_identifiers": 10}') AS unchanged;
SELECT prefactor_update_risk_profile('acme', 'worked', terminate_at_level => 'none') AS still_unchanged;
SELECT revision, category_weights -> 'personal_identifiers' AS personal_identifiers
  FROM risk_profile_revisions ORDER BY revision;
SELECT risk_test_run('support-bot', 3) IS NOT NULL AS registered;
\set r3 'pfid_build(1700000000003, 41, ''\\x00000000000000000003'')'
SELECT risk_test_span(3, 'lookup', n => 3);
SELECT * FROM risk_test_show(3);
SELECT * FROM risk_test_show(1);

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
SELECT risk_test_run('support-bot', 4) IS NOT NULL AS registered;
\set r4 'pfid_build(1700000000004, 41, ''\\x00000000000000000004'')'
-- Another session LISTENs and records spans; its psql prints each notification
-- (the sending process id masked). The second span reaches high and terminates.
\setenv PGDATABASE :DBNAME
\setenv PGHOST :HOST
\setenv PGPORT :PORT
\setenv PGUSER :USER
\! psql -X -tA -c 'LISTEN prefactor_risk' -c "SELECT risk_test_span(4, 'lookup')" -c "SELECT risk_test_span(4, 'lookup')" 2>&1 | sed -E 's/PID [0-9]+/PID n/'
SELECT * FROM risk_test_show(4);
SELECT termination_reason, finished_at FROM instances WHERE id = :r4;
-- a terminated run scores no further spans
BEGIN;
SELECT risk_test_span(4, 'lookup', n => 5);
SELECT * FROM risk_test_show(4);
ROLLBACK;
-- every rise notifies, also within one statement; without terminate_at_level the run goes on
SELECT prefactor_update_risk_profile('acme', 'strict', terminate_at_level => 'none') AS revision;
SELECT risk_test_run('support-bot', 5) IS NOT NULL AS registered;
\set r5 'pfid_build(1700000000005, 41, ''\\x00000000000000000005'')'
\! psql -X -tA -c 'LISTEN prefactor_risk' -c "SELECT risk_test_span(5, 'lookup', n => 4)" 2>&1 | sed -E 's/PID [0-9]+/PID n/'
SELECT * FROM risk_test_show(5);

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
SELECT risk_test_run('support-bot', 6) IS NOT NULL AS registered;
\set r6 'pfid_build(1700000000006, 41, ''\\x00000000000000000006'')'
SELECT risk_test_span(6, 'lookup', n => 2);
SELECT * FROM risk_test_show(6);
-- ... while earlier runs keep their scores and revisions
SELECT * FROM risk_test_show(4);
-- a deleted profile is out of the agreed-scope view
SELECT count(*) AS scope_rows_for_deleted FROM risk_scope_violations WHERE risk_profile = 'strict';

------------------------------------------------------------------------------
-- Reconciliation: every run's stored live values equal the aggregates
------------------------------------------------------------------------------
SELECT count(*) AS runs,
	   count(*) FILTER (WHERE i.risk_score IS NOT DISTINCT FROM
						 CASE WHEN i.risk_profile_revision_id IS NULL THEN NULL ELSE coalesce(a.score, 0) END) AS score_matches,
	   count(*) FILTER (WHERE i.risk_level IS NOT DISTINCT FROM
						 prefactor_risk_level(coalesce(a.score, 0), i.risk_profile_revision_id)) AS level_matches,
	   count(*) FILTER (WHERE i.risk_score IS NOT DISTINCT FROM (a.breakdown ->> 'total')::numeric
						 OR a.breakdown IS NULL) AS breakdown_matches
  FROM instances i
  LEFT JOIN (SELECT s.account_id, s.instance_id,
					risk_score(s.span_type_id, r.risk_profile_revision_id) AS score,
					risk_breakdown(s.span_type, s.span_type_id, r.risk_profile_revision_id) AS breakdown
			   FROM spans s JOIN instances r ON r.account_id = s.account_id AND r.id = s.instance_id
			  GROUP BY 1, 2) a ON a.account_id = i.account_id AND a.instance_id = i.id;

-- Per agent and per day, over runs with different revisions.
SELECT a.name AS agent, date_trunc('day', s.started_at) AS day,
	   risk_score(s.span_type_id, i.risk_profile_revision_id) AS score,
	   risk_breakdown(s.span_type, s.span_type_id, i.risk_profile_revision_id) -> 'types' -> 0 AS top_type
  FROM spans s JOIN instances i ON i.account_id = s.account_id AND i.id = s.instance_id
  JOIN agents a ON a.account_id = i.account_id AND a.id = i.agent_id
 GROUP BY 1, 2 ORDER BY 1, 2;

------------------------------------------------------------------------------
-- Parallel aggregation: partial aggregates in workers, combined in the leader
------------------------------------------------------------------------------
CREATE TABLE public.risk_bulk AS
SELECT (g % 97) AS grp, s.span_type, s.span_type_id, i.risk_profile_revision_id
  FROM spans s JOIN instances i ON i.account_id = s.account_id AND i.id = s.instance_id,
	   generate_series(1, 4000) g
 WHERE i.risk_profile_revision_id IS NOT NULL;
ANALYZE risk_bulk;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT grp, risk_score(span_type_id, risk_profile_revision_id),
	   risk_breakdown(span_type, span_type_id, risk_profile_revision_id)
  FROM risk_bulk GROUP BY grp;
EXPLAIN (COSTS OFF)
SELECT risk_score(span_type_id, risk_profile_revision_id) FROM risk_bulk;
CREATE TEMP TABLE parallel_result AS
SELECT grp, risk_score(span_type_id, risk_profile_revision_id) AS score,
	   risk_breakdown(span_type, span_type_id, risk_profile_revision_id) AS breakdown
  FROM risk_bulk GROUP BY grp;
SELECT risk_score(span_type_id, risk_profile_revision_id) AS parallel_total FROM risk_bulk;
RESET parallel_leader_participation;
SET max_parallel_workers_per_gather = 0;
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE p.score = s.score AND p.breakdown = s.breakdown) AS equal_to_serial
  FROM parallel_result p
  JOIN (SELECT grp, risk_score(span_type_id, risk_profile_revision_id) AS score,
			   risk_breakdown(span_type, span_type_id, risk_profile_revision_id) AS breakdown
		  FROM risk_bulk GROUP BY grp) s USING (grp);
SELECT risk_score(span_type_id, risk_profile_revision_id) AS serial_total FROM risk_bulk;
RESET ALL;
DROP TABLE public.risk_bulk;
DROP FUNCTION public.risk_test_run(text, int), public.risk_test_span(int, text, text, int), public.risk_test_show(int);
