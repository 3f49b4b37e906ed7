-- Risk scoring as login roles (issue 12): profiles by the admin, scored runs by
-- the ingest role, scores, aggregates and views read by every level, each step
-- on a fresh connection (\c), so no per-backend cache a superuser filled
-- answers it. The figures are those of the worked example (doc/risk.md).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
DROP ROLE IF EXISTS regress_cr_admin, regress_cr_ingest, regress_cr_reader;
CREATE EXTENSION prefactor;
RESET client_min_messages;
\set VERBOSITY terse
\set SHOW_CONTEXT never
SELECT current_user AS superuser \gset
SET search_path = prefactor, public;

------------------------------------------------------------------------------
-- Set-up as superuser: the account, its environment, a login role per level.
------------------------------------------------------------------------------
\set pw 'regress_clients_unused'
\getenv pw PGPASSWORD
CREATE ROLE regress_cr_admin LOGIN PASSWORD :'pw';
CREATE ROLE regress_cr_ingest LOGIN PASSWORD :'pw';
CREATE ROLE regress_cr_reader LOGIN PASSWORD :'pw';
ALTER ROLE regress_cr_admin SET search_path = prefactor, public;
ALTER ROLE regress_cr_ingest SET search_path = prefactor, public;
ALTER ROLE regress_cr_reader SET search_path = prefactor, public;
SELECT prefactor_create_account('acme') IS NOT NULL AS account_created;
SELECT prefactor_create_environment('acme', 'production') IS NOT NULL AS env_created;
SELECT prefactor_grant_access('acme', 'regress_cr_admin', 'admin');
SELECT prefactor_grant_access('acme', 'regress_cr_ingest', 'ingest');
SELECT prefactor_grant_access('acme', 'regress_cr_reader', 'reader');
-- The activity schema of the worked example (sql/risk.sql): lookup scores
-- identifiers 8 + contacts 4 under read 1.0 = 12; pay 5; notify and chat 0.
\set schema '{"external_identifier": "schema-1", "span_type_schemas": [{"name": "lookup", "params_schema": {"type": "object"}, "data_risk": {"action_profile": {"read_data": "allowed", "update_data": "disallowed"}, "params_data_categories": {"classification": "confidential", "personal_identifiers": "included", "contact_information": "included"}}}, {"name": "pay", "data_risk": {"action_profile": {"financial_transactions": "allowed"}, "params_data_categories": {"financial_information": "included"}, "result_data_categories": {"classification": "restricted"}}}, {"name": "notify", "data_risk": {"action_profile": {"external_communication": "allowed"}, "params_data_categories": {"contact_information": "included"}}}, {"name": "chat"}]}'

------------------------------------------------------------------------------
-- Profiles by the admin, each call the first of its connection.
------------------------------------------------------------------------------
\c - regress_cr_admin
SELECT prefactor_create_risk_profile('acme', 'worked',
	category_weights => '{"personal_identifiers": 8, "contact_information": 4, "financial_information": 5}',
	action_multipliers => '{"read_data": 1.0, "financial_transactions": 1, "external_communication": {"included": false}}',
	medium_threshold => 20, high_threshold => 50, critical_threshold => 100) IS NOT NULL AS created;
\c - regress_cr_admin
SELECT prefactor_create_risk_profile('acme', 'strict', template => 'strict_gdpr',
	medium_threshold => 10, high_threshold => 20, critical_threshold => 40, terminate_at_level => 'high') IS NOT NULL AS created;
\c - regress_cr_admin
SELECT prefactor_create_risk_profile('acme', 'spare') IS NOT NULL AS created;
\c - regress_cr_admin
SELECT prefactor_update_risk_profile('acme', 'spare', medium_threshold => 25) AS new_revision;
\c - regress_cr_admin
SELECT prefactor_delete_risk_profile('acme', 'spare') AS deleted;
\c - regress_cr_admin
SELECT prefactor_register_agent('acme', 'support-bot', risk_profile => 'worked') IS NOT NULL AS agent_created;
\c - regress_cr_admin
SELECT prefactor_register_agent('acme', 'strict-bot') IS NOT NULL AS agent_created;
\c - regress_cr_admin
SELECT prefactor_assign_risk_profile('acme', 'strict-bot', 'strict');
\c - regress_cr_admin
SELECT p.name, p.deleted_at IS NOT NULL AS deleted, r.revision, r.medium_threshold, r.high_threshold, r.critical_threshold,
	   r.terminate_at_level, r.category_weights -> 'personal_identifiers' AS personal_identifiers
  FROM risk_profiles p JOIN risk_profile_revisions r ON r.account_id = p.account_id AND r.risk_profile_id = p.id
 ORDER BY p.name, r.revision;
SELECT a.name AS agent, p.name AS risk_profile
  FROM agents a LEFT JOIN risk_profiles p ON p.account_id = a.account_id AND p.id = a.risk_profile_id ORDER BY 1;

------------------------------------------------------------------------------
-- The worked example, live, recorded by the ingest role: 12 a lookup span,
-- three of them 36, one pay 5: 41, Medium.
------------------------------------------------------------------------------
\c - regress_cr_ingest
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{"external_identifier": "v1"}', :'schema') AS r1 \gset
\c - regress_cr_ingest
SELECT terminate FROM prefactor_record_span(:'r1', 'lookup', '{}');
\c - regress_cr_ingest
SELECT run_risk_score(i) AS risk_score, risk_level, max_classification FROM instances i WHERE id = :'r1';
\c - regress_cr_ingest
SELECT terminate FROM prefactor_record_span(:'r1', 'lookup', '{}', status => 'failed');
\c - regress_cr_ingest
SELECT terminate FROM prefactor_start_span(:'r1', 'lookup', '{}');
\c - regress_cr_ingest
SELECT terminate FROM prefactor_record_span(:'r1', 'notify', '{}');
\c - regress_cr_ingest
SELECT terminate FROM prefactor_record_span(:'r1', 'chat', '{}');
\c - regress_cr_ingest
SELECT terminate FROM prefactor_record_span(:'r1', 'mystery', '{}');
\c - regress_cr_ingest
SELECT terminate FROM prefactor_record_span(:'r1', 'pay', '{}');
-- a plain INSERT of a span by the ingest role is scored by the same triggers: 41 + 5 = 46
\c - regress_cr_ingest
INSERT INTO spans (account_id, instance_id, span_type) SELECT account_id, id, 'pay' FROM instances WHERE id = :'r1';
\c - regress_cr_ingest
SELECT run_risk_score(i) AS risk_score, risk_level, max_classification FROM instances i WHERE id = :'r1';

------------------------------------------------------------------------------
-- Reading the scores: each level, each query on a fresh connection.
------------------------------------------------------------------------------
-- The stored score and level of the run, and through instance_summary.
\c - regress_cr_reader
SELECT risk_score, risk_level, status FROM instance_summary WHERE instance_id = :'r1';
-- The aggregates over the run's spans equal the stored score (doc/risk.md, Aggregates).
\c - regress_cr_reader
SELECT risk_score(span_type_id, risk_profile_revision_id) AS score FROM spans WHERE instance_id = :'r1';
\c - regress_cr_reader
SELECT jsonb_pretty(risk_breakdown(span_type_id, risk_profile_revision_id)) AS breakdown FROM spans WHERE instance_id = :'r1';
\c - regress_cr_ingest
SELECT risk_score(span_type_id, risk_profile_revision_id) AS score,
	   risk_breakdown(span_type_id, risk_profile_revision_id) -> 'spans' AS spans
  FROM spans WHERE instance_id = :'r1';
\c - regress_cr_admin
SELECT risk_score(span_type_id, risk_profile_revision_id) AS score,
	   risk_breakdown(span_type_id, risk_profile_revision_id) -> 'spans' AS spans
  FROM spans WHERE instance_id = :'r1';
-- Per span: the span_risk view, which adds up to the same score.
\c - regress_cr_reader
SELECT span_type, status, points FROM span_risk WHERE instance_id = :'r1' ORDER BY span_type, status;
\c - regress_cr_reader
SELECT sum(points) AS view_total FROM span_risk;
\c - regress_cr_ingest
SELECT count(*) AS spans, sum(points) AS view_total FROM span_risk;
\c - regress_cr_admin
SELECT count(*) AS spans, sum(points) AS view_total FROM span_risk;
-- Points of each span type under the run's revision, the band of a score, the declared risk.
\c - regress_cr_reader
SELECT st.name, risk_type_points(st.id, i.risk_profile_revision_id) AS points
  FROM instances i JOIN span_types st ON st.account_id = i.account_id AND st.schema_version_id = i.schema_version_id
 WHERE i.id = :'r1' ORDER BY st.name;
\c - regress_cr_reader
SELECT prefactor_risk_level(41, risk_profile_revision_id) AS level_of_41,
	   prefactor_risk_level(19.99, risk_profile_revision_id) AS level_of_19_99
  FROM instances WHERE id = :'r1';
\c - regress_cr_reader
SELECT name, risk_declared_categories(data_risk) AS categories, risk_declared_actions(data_risk) AS actions,
	   risk_classification(data_risk) AS classification
  FROM span_types ORDER BY name;
-- Agreed scope: notify's action is outside the profile.
\c - regress_cr_reader
SELECT agent, span_type, risk_profile, categories_outside, actions_outside FROM risk_scope_violations ORDER BY span_type;

------------------------------------------------------------------------------
-- Termination: strict stops runs at high; lookup scores (8 + 6) x 1.0 = 14.
------------------------------------------------------------------------------
\c - regress_cr_ingest
SELECT prefactor_start_run('acme', 'strict-bot', 'production', '{"external_identifier": "v1"}', :'schema') AS r2 \gset
\c - regress_cr_ingest
SELECT terminate FROM prefactor_record_span(:'r2', 'lookup', '{}');
-- the second reaches 28, high: the span is stored and its answer already says terminate
\c - regress_cr_ingest
SELECT terminate FROM prefactor_record_span(:'r2', 'lookup', '{}');
-- the next stores nothing and gives the reason
\c - regress_cr_ingest
SELECT span_id IS NULL AS no_span, terminate, reason FROM prefactor_record_span(:'r2', 'lookup', '{}');
\c - regress_cr_reader
SELECT status, risk_score, risk_level, termination_reason FROM instances WHERE id = :'r2';

------------------------------------------------------------------------------
-- A revision written by a plain INSERT of the admin is completed by the
-- trigger (missing categories and actions filled in) and checked; it scores
-- the runs that start after it.
------------------------------------------------------------------------------
\c - regress_cr_admin
INSERT INTO risk_profile_revisions (account_id, risk_profile_id, revision, category_weights, action_multipliers,
	medium_threshold, high_threshold, critical_threshold)
SELECT account_id, id, 2, '{"personal_identifiers": 10, "contact_information": 4}', '{"read_data": 1.5}', 20, 50, 100
  FROM risk_profiles WHERE name = 'worked';
\c - regress_cr_admin
SELECT revision, category_weights -> 'personal_identifiers' AS personal_identifiers,
	   action_multipliers -> 'read_data' AS read_data,
	   (SELECT count(*) FROM jsonb_object_keys(category_weights)) = (SELECT count(*) FROM risk_categories) AS all_categories,
	   (SELECT count(*) FROM jsonb_object_keys(action_multipliers)) = (SELECT count(*) FROM risk_actions) AS all_actions
  FROM risk_profile_revisions r WHERE revision = 2 AND risk_profile_id = (SELECT id FROM risk_profiles WHERE name = 'worked');
\c - regress_cr_admin
INSERT INTO risk_profile_revisions (account_id, risk_profile_id, revision, category_weights, medium_threshold, high_threshold, critical_threshold)
SELECT account_id, id, 3, '{"minors_data": 12}', 1, 2, 3 FROM risk_profiles WHERE name = 'worked';
\c - regress_cr_admin
UPDATE risk_profile_revisions SET medium_threshold = 1;
-- (10 + 4) x 1.5 = 21 a lookup span: Medium
\c - regress_cr_ingest
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{"external_identifier": "v1"}', :'schema') AS r3 \gset
\c - regress_cr_ingest
SELECT terminate FROM prefactor_record_span(:'r3', 'lookup', '{}');
\c - regress_cr_reader
SELECT run_risk_score(i) AS risk_score, i.risk_level, r.revision FROM instances i
  JOIN risk_profile_revisions r ON r.account_id = i.account_id AND r.id = i.risk_profile_revision_id
 WHERE i.id = :'r3';

-- A replay by the ingest role (INSERT ... ON CONFLICT DO NOTHING of a span
-- already stored) raises nothing: 21 + 21 stored is medium; counting the
-- replayed 21 again would make it high.
\c - regress_cr_ingest
SELECT pfid_generate(pfid_partition(account_id)) AS replayed FROM instances WHERE id = :'r3' \gset
\c - regress_cr_ingest
INSERT INTO spans (account_id, id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT account_id, :'replayed', id, 'lookup', 'complete', '{}', now(), now() FROM instances WHERE id = :'r3';
\c - regress_cr_ingest
INSERT INTO spans (account_id, id, instance_id, span_type, status, payload, started_at, finished_at)
SELECT account_id, :'replayed', id, 'lookup', 'complete', '{}', now(), now() FROM instances WHERE id = :'r3'
ON CONFLICT DO NOTHING;
\c - regress_cr_reader
SELECT run_risk_score(i) AS risk_score, i.risk_level, (SELECT count(*) FROM spans s WHERE s.instance_id = i.id) AS spans
  FROM instances i WHERE i.id = :'r3';

------------------------------------------------------------------------------
-- What a level may not do: refused with insufficient_privilege (42501).
------------------------------------------------------------------------------
\c - regress_cr_reader
SELECT prefactor_create_risk_profile('acme', 'reader-profile');
\c - regress_cr_reader
UPDATE risk_profiles SET description = 'reader';
\c - regress_cr_ingest
SELECT prefactor_update_risk_profile('acme', 'worked', medium_threshold => 1);
\c - regress_cr_ingest
SELECT prefactor_assign_risk_profile('acme', 'support-bot', NULL);
\c - regress_cr_ingest
INSERT INTO risk_profile_revisions (account_id, risk_profile_id, revision, medium_threshold, high_threshold, critical_threshold)
SELECT account_id, id, 4, 1, 2, 3 FROM risk_profiles WHERE name = 'worked';
\c - regress_cr_ingest
SELECT prefactor_delete_risk_profile('acme', 'worked');
\c - regress_cr_admin
SELECT name, deleted_at IS NULL AS live, (SELECT max(revision) FROM risk_profile_revisions r WHERE r.risk_profile_id = p.id) AS revisions
  FROM risk_profiles p ORDER BY name;

\c - :superuser
SET client_min_messages = warning;
DROP EXTENSION prefactor CASCADE;
DROP ROLE regress_cr_admin, regress_cr_ingest, regress_cr_reader;
CREATE EXTENSION prefactor;
