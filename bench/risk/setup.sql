-- Risk benchmark data: one account, one agent under the general template,
-- 5 span types, 10,000 runs and 1,000,000 spans (100 a run).
-- Spans are bulk-loaded with triggers off (ids and span_type_id given), so
-- loading is not measured here; see insert.sql for the live-scoring cost.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
CREATE EXTENSION prefactor;
SET search_path = prefactor, public;

SELECT prefactor_create_account('bench') IS NOT NULL;
SELECT prefactor_create_environment('bench', 'production') IS NOT NULL;
SELECT prefactor_create_risk_profile('bench', 'general') IS NOT NULL;
SELECT prefactor_register_agent('bench', 'bot', risk_profile => 'general') IS NOT NULL;
SELECT prefactor_register_agent('bench', 'plain-bot') IS NOT NULL;
CREATE TABLE public.bench_schema AS SELECT '{"external_identifier": "s1", "span_type_schemas": [
	{"name": "llm", "data_risk": {"action_profile": {"read_data": "allowed"},
		"params_data_categories": {"classification": "internal", "personal_identifiers": "included"}}},
	{"name": "lookup", "data_risk": {"action_profile": {"read_data": "allowed", "update_data": "allowed"},
		"params_data_categories": {"classification": "confidential", "personal_identifiers": "included",
								   "contact_information": "included"}}},
	{"name": "pay", "data_risk": {"action_profile": {"financial_transactions": "allowed"},
		"params_data_categories": {"financial_information": "included"}}},
	{"name": "email", "data_risk": {"action_profile": {"external_communication": "allowed"},
		"result_data_categories": {"contact_information": "included"}}},
	{"name": "chat"}]}'::jsonb AS doc;
-- one run through the API creates the versions; the rest are copies of it
SELECT prefactor_start_run('bench', 'bot', 'production', '{"external_identifier": "v1"}',
						   (SELECT doc FROM public.bench_schema)) IS NOT NULL;
SELECT prefactor_start_run('bench', 'plain-bot', 'production', '{"external_identifier": "v1"}',
						   (SELECT doc FROM public.bench_schema)) IS NOT NULL;
INSERT INTO instances (account_id, agent_id, version_id, schema_version_id, environment_id, status, started_at,
					   risk_profile_revision_id, risk_score, risk_level)
SELECT account_id, agent_id, version_id, schema_version_id, environment_id, 'active', now(),
	   risk_profile_revision_id, risk_score, risk_level
  FROM instances i, generate_series(2, 10000)
 WHERE i.agent_id = (SELECT id FROM agents WHERE name = 'bot');

SET session_replication_role = replica;	-- bulk load: no triggers
INSERT INTO spans (account_id, id, instance_id, span_type, span_type_id, risk_profile_revision_id, status, payload,
				   started_at, finished_at)
SELECT i.account_id, pfid_generate(pfid_partition(i.account_id)), i.id, t.name, t.id, i.risk_profile_revision_id, 'complete',
	   '{"prompt": "a typical short payload of an agent step"}', now(), now()
  FROM (SELECT i.*, row_number() OVER () AS n FROM instances i
		 WHERE agent_id = (SELECT id FROM agents WHERE name = 'bot')) i
 CROSS JOIN generate_series(1, 100) g
  JOIN (SELECT st.*, row_number() OVER (ORDER BY st.name) - 1 AS k FROM span_types st
		  JOIN agents a ON a.name = 'bot'
		  JOIN activity_schema_versions v ON v.id = st.schema_version_id AND v.agent_id = a.id) t
	ON t.k = (g * 7 + i.n) % 5;
RESET session_replication_role;
VACUUM ANALYZE spans;
VACUUM ANALYZE instances;
SELECT count(*) AS spans, count(DISTINCT instance_id) AS instances FROM spans;
