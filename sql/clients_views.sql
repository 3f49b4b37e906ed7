-- The views and read functions as login roles (issue 12): runs recorded by the
-- ingest role through the API (validated, scored), then every view, the span
-- timeline, span_conformance and span_risk read by each level, each query on a
-- fresh connection (\c); what outsiders get; and what a BI role needs to join
-- and filter the views on their pfid columns.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
DROP ROLE IF EXISTS regress_cv_admin, regress_cv_ingest, regress_cv_reader, regress_cv_other, regress_cv_nobody,
	regress_cv_bi;
CREATE EXTENSION prefactor;
RESET client_min_messages;
\set VERBOSITY terse
\set SHOW_CONTEXT never
SELECT current_user AS superuser \gset
SET search_path = prefactor, public;

------------------------------------------------------------------------------
-- Set-up as superuser: account viewco with a risk profile, an environment and
-- an agent; a login role per level; a reader of another account; a login role
-- with no account; a BI reader that keeps the default search_path.
------------------------------------------------------------------------------
\set pw 'regress_clients_unused'
\getenv pw PGPASSWORD
CREATE ROLE regress_cv_admin LOGIN PASSWORD :'pw';
CREATE ROLE regress_cv_ingest LOGIN PASSWORD :'pw';
CREATE ROLE regress_cv_reader LOGIN PASSWORD :'pw';
CREATE ROLE regress_cv_other LOGIN PASSWORD :'pw';
CREATE ROLE regress_cv_nobody LOGIN PASSWORD :'pw';
CREATE ROLE regress_cv_bi LOGIN PASSWORD :'pw';
ALTER ROLE regress_cv_admin SET search_path = prefactor, public;
ALTER ROLE regress_cv_ingest SET search_path = prefactor, public;
ALTER ROLE regress_cv_reader SET search_path = prefactor, public;
ALTER ROLE regress_cv_other SET search_path = prefactor, public;
ALTER ROLE regress_cv_nobody SET search_path = prefactor, public;
SELECT prefactor_create_account('viewco') AS viewco \gset
SELECT prefactor_create_account('otherco') IS NOT NULL AS other_account;
SELECT prefactor_grant_access('viewco', 'regress_cv_admin', 'admin');
SELECT prefactor_grant_access('viewco', 'regress_cv_ingest', 'ingest');
SELECT prefactor_grant_access('viewco', 'regress_cv_reader', 'reader');
SELECT prefactor_grant_access('viewco', 'regress_cv_bi', 'reader');
SELECT prefactor_grant_access('otherco', 'regress_cv_other', 'reader');
SELECT prefactor_create_environment('viewco', 'production') IS NOT NULL AS env;
SELECT prefactor_create_environment('viewco', 'staging') IS NOT NULL AS env;
-- general template: identifiers 6, contacts 4, read 1.0; bands low < 12 <= medium < 22 <= high
SELECT prefactor_create_risk_profile('viewco', 'views', medium_threshold => 12, high_threshold => 22,
	critical_threshold => 100) IS NOT NULL AS risk_profile;
SELECT prefactor_register_agent('viewco', 'helper', risk_profile => 'views') IS NOT NULL AS agent;
-- llm: (6 + 4) x 1.0 = 10 points a span; its payload must name a model.
\set schema1 '{"external_identifier": "s1", "span_type_schemas": [{"name": "task", "params_schema": {"type": "object"}}, {"name": "llm", "params_schema": {"type": "object", "required": ["model"]}, "data_risk": {"action_profile": {"read_data": "allowed"}, "params_data_categories": {"personal_identifiers": "included", "contact_information": "included"}}}]}'

------------------------------------------------------------------------------
-- Runs recorded by the ingest role, each run from a new connection.
------------------------------------------------------------------------------
-- Run A (production, v1): a task, a model call, a model call without a model
-- (a mismatch) and an undeclared tool call under it: 20 points, medium.
\c - regress_cv_ingest
SELECT prefactor_start_run('viewco', 'helper', 'production', '{"external_identifier": "v1"}', :'schema1',
	started_at => '2025-03-01 10:00:00+00') AS run_a \gset
SELECT span_id AS a_root FROM prefactor_start_span(:'run_a', 'task', '{"goal": "answer"}', started_at => '2025-03-01 10:00:01+00') \gset
SELECT terminate FROM prefactor_record_span(:'run_a', 'llm', '{"model": "m"}', '{"output": "x"}',
	parent_span => :'a_root', started_at => '2025-03-01 10:00:02+00', finished_at => '2025-03-01 10:00:04+00');
SELECT span_id AS a_llm2 FROM prefactor_start_span(:'run_a', 'llm', '{"prompt": "no model"}', :'a_root', '2025-03-01 10:00:05+00') \gset
SELECT terminate FROM prefactor_record_span(:'run_a', 'tool:search', '{"q": "x"}', NULL, 'failed', :'a_llm2',
	'2025-03-01 10:00:06+00', '2025-03-01 10:00:06.5+00');
SELECT terminate FROM prefactor_finish_span(:'a_llm2', 'complete', '{"output": "y"}', '2025-03-01 10:00:08+00');
SELECT terminate FROM prefactor_finish_span(:'a_root', 'complete', '{}', '2025-03-01 10:00:09+00');
SELECT prefactor_finish_run(:'run_a', 'complete', '2025-03-01 10:00:10+00');
-- Run B (staging, v2, an hour later): one model call, 10 points, low; fails.
\c - regress_cv_ingest
SELECT prefactor_start_run('viewco', 'helper', 'staging', '{"external_identifier": "v2"}', :'schema1',
	started_at => '2025-03-01 11:30:00+00') AS run_b \gset
SELECT terminate FROM prefactor_record_span(:'run_b', 'llm', '{"model": "m"}', '{"error": "timeout"}', 'failed',
	started_at => '2025-03-01 11:30:01+00', finished_at => '2025-03-01 11:30:31+00');
SELECT prefactor_finish_run(:'run_b', 'failed', '2025-03-01 11:30:32+00');
-- Deployments by the admin.
\c - regress_cv_admin
SELECT prefactor_deploy('viewco', 'helper', 'production', 'v1') IS NOT NULL AS deployed;
SELECT prefactor_deploy('viewco', 'helper', 'staging', 'v2') IS NOT NULL AS deployed;

------------------------------------------------------------------------------
-- The reader: every view and read function, each on a new connection.
------------------------------------------------------------------------------
\c - regress_cv_reader
SELECT agent, environment, version, schema_version, status, spans, spans_complete, spans_failed,
	   schema_mismatches, undeclared_spans, risk_score, risk_level
  FROM instance_summary ORDER BY started_at;
\c - regress_cv_reader
SELECT ordinal, depth, path, status, conformance, jsonb_array_length(payload_errors) AS payload_errors
  FROM prefactor_span_timeline(:'run_a');
\c - regress_cv_reader
SELECT span_type, status, span_conformance(payload_conforms, result_conforms, validation, span_type_id) AS conformance
  FROM spans WHERE instance_id = :'run_a' ORDER BY started_at;
\c - regress_cv_reader
SELECT span_type, declared, spans, validated, mismatches, payload_mismatches, mismatch_rate
  FROM schema_conformance ORDER BY span_type;
\c - regress_cv_reader
SELECT span_type, status, points FROM span_risk ORDER BY started_at;
\c - regress_cv_reader
SELECT risk_score(span_type_id, risk_profile_revision_id) AS score,
	   risk_breakdown(span_type_id, risk_profile_revision_id) -> 'types' -> 0 AS top_type
  FROM spans;
\c - regress_cv_reader
SELECT environment, bucket_start, instances, scored, low, medium, high, critical, peak_level, peak_score
  FROM risk_by_hour ORDER BY bucket_start;
\c - regress_cv_reader
SELECT environment, bucket_start, instances, low, medium, peak_level FROM risk_by_day ORDER BY bucket_start, environment;
\c - regress_cv_reader
SELECT bucket, count(*) FROM risk_over_time GROUP BY bucket ORDER BY bucket;
\c - regress_cv_reader
SELECT agent, environment, pending, active, complete, failed, total FROM agent_activity_24h ORDER BY environment;
\c - regress_cv_reader
SELECT agent, environment, version FROM live_deployments ORDER BY environment;
\c - regress_cv_reader
SELECT agent, environment, version, schema_version, live FROM deployment_history ORDER BY environment;
\c - regress_cv_reader
SELECT agent, version, schema_version, schema_identifier, runs FROM version_history ORDER BY version;
\c - regress_cv_reader
SELECT agent, span_type, categories_outside, actions_outside FROM risk_scope_violations;

------------------------------------------------------------------------------
-- Ingest and admin read the same: one query over every view, on a new connection each.
------------------------------------------------------------------------------
\set all_views 'SELECT (SELECT count(*) FROM instance_summary) AS runs, (SELECT sum(risk_score) FROM instance_summary) AS risk, (SELECT count(*) FROM prefactor_span_timeline(' :'run_a' ')) AS timeline, (SELECT sum(spans) FROM schema_conformance) AS conformance, (SELECT sum(points) FROM span_risk) AS points, (SELECT count(*) FROM risk_over_time) AS risk_rows, (SELECT count(*) FROM agent_activity_24h) AS activity, (SELECT count(*) FROM live_deployments) AS live, (SELECT count(*) FROM deployment_history) AS deployments, (SELECT count(*) FROM version_history) AS versions'
\c - regress_cv_ingest
:all_views;
\c - regress_cv_admin
:all_views;

------------------------------------------------------------------------------
-- Outsiders. A reader of another account is in prefactor_reader and sees none
-- of viewco's rows: every view and read function gives an empty result. A
-- login role with no account gets nothing at all: PUBLIC has no privilege on
-- the schema (doc/security.md, PUBLIC), so it is refused with 42501.
------------------------------------------------------------------------------
\c - regress_cv_other
:all_views;
\c - regress_cv_other
SELECT count(*) AS timeline_of_run_a FROM prefactor_span_timeline(:'run_a');
\c - regress_cv_other
SELECT count(*) AS viewco_runs FROM instance_summary WHERE account_id = :'viewco';
\c - regress_cv_nobody
SELECT count(*) FROM prefactor.instance_summary;
\c - regress_cv_nobody
SELECT count(*) FROM prefactor.prefactor_span_timeline(:'run_a');

------------------------------------------------------------------------------
-- BI: a reader that had PostgreSQL's default search_path ("$user", public)
-- joins two views on an id and filters on account_id. The pfid operators live
-- in schema prefactor; prefactor_grant_access gave the role prefactor on its
-- path in this database, so both work on its first connection.
------------------------------------------------------------------------------
\c - regress_cv_bi
SHOW search_path;
SELECT s.version, v.schema_identifier
  FROM prefactor.instance_summary s JOIN prefactor.version_history v ON v.version_id = s.version_id ORDER BY 1;
\c - regress_cv_bi
SELECT count(*) FROM prefactor.instance_summary WHERE account_id = :'viewco';
-- and a view joined with a table on two ids
\c - regress_cv_bi
SELECT count(*) FROM instance_summary i JOIN spans s ON s.account_id = i.account_id AND s.instance_id = i.instance_id
 WHERE i.instance_id = :'run_a';
-- A role whose DBA set a search_path of its own keeps it (a grant does not override it): without
-- prefactor on it the operators are not found ...
\c - :superuser
SELECT current_database() AS db \gset
ALTER ROLE regress_cv_bi IN DATABASE :"db" SET search_path = "$user", public;
\c - regress_cv_bi
SELECT s.version, v.schema_identifier
  FROM prefactor.instance_summary s JOIN prefactor.version_history v ON v.version_id = s.version_id ORDER BY 1;
\c - :superuser
SELECT prefactor.prefactor_grant_access('viewco', 'regress_cv_bi', 'reader');
\c - regress_cv_bi
SHOW search_path;
SELECT count(*) FROM prefactor.instance_summary WHERE account_id = :'viewco';
-- ... what works without any setting: naming the operator, or comparing text ...
\c - regress_cv_bi
SELECT s.version, v.schema_identifier
  FROM prefactor.instance_summary s JOIN prefactor.version_history v ON v.version_id OPERATOR(prefactor.=) s.version_id
 ORDER BY 1;
\c - regress_cv_bi
SELECT count(*) FROM prefactor.instance_summary WHERE account_id::text = :'viewco';
-- ... and the one line that fixes it: prefactor on its search_path, after its own schemas.
\c - :superuser
ALTER ROLE regress_cv_bi IN DATABASE :"db" SET search_path = "$user", public, prefactor;
\c - regress_cv_bi
SELECT s.version, v.schema_identifier
  FROM prefactor.instance_summary s JOIN prefactor.version_history v ON v.version_id = s.version_id ORDER BY 1;
\c - regress_cv_bi
SELECT count(*) FROM prefactor.instance_summary WHERE account_id = :'viewco';

\c - :superuser
SET client_min_messages = warning;
DROP EXTENSION prefactor CASCADE;
DROP ROLE regress_cv_admin, regress_cv_ingest, regress_cv_reader, regress_cv_other, regress_cv_nobody, regress_cv_bi;
CREATE EXTENSION prefactor;
