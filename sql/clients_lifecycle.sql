-- Run lifecycle as login roles (issue 12): every step on a fresh connection
-- (\c) of a plain login role, so no cache a superuser filled serves it. Each
-- API call that finds an account by its name is the first call of its
-- connection at least once here (the risk profile calls: in clients_risk).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
DROP ROLE IF EXISTS regress_cl_admin, regress_cl_ingest, regress_cl_reader, regress_cl_outsider;
CREATE EXTENSION prefactor;
RESET client_min_messages;
\set VERBOSITY terse
\set SHOW_CONTEXT never
SELECT current_user AS superuser \gset

------------------------------------------------------------------------------
-- Set-up as superuser: one account, a login role at each level, one outsider.
-- pg_virtualenv connects over TCP with password authentication and exports
-- PGPASSWORD, which \c reuses; under trust the password is never asked for.
------------------------------------------------------------------------------
\set pw 'regress_clients_unused'
\getenv pw PGPASSWORD
CREATE ROLE regress_cl_admin LOGIN PASSWORD :'pw';
CREATE ROLE regress_cl_ingest LOGIN PASSWORD :'pw';
CREATE ROLE regress_cl_reader LOGIN PASSWORD :'pw';
CREATE ROLE regress_cl_outsider LOGIN PASSWORD :'pw';
-- Like the example clients (README, Clients), the roles put prefactor on their
-- search_path; the calls still name the schema.
ALTER ROLE regress_cl_admin SET search_path = prefactor, public;
ALTER ROLE regress_cl_ingest SET search_path = prefactor, public;
ALTER ROLE regress_cl_reader SET search_path = prefactor, public;
SELECT prefactor.prefactor_create_account('acme') IS NOT NULL AS account_created;
-- The admin and ingest levels are granted here, so that a failing first call of
-- the admin below does not take the ingest role's steps with it.
SELECT prefactor.prefactor_grant_access('acme', 'regress_cl_admin', 'admin');
SELECT prefactor.prefactor_grant_access('acme', 'regress_cl_ingest', 'ingest');

------------------------------------------------------------------------------
-- Set-up by the admin: each call is the first of a new connection.
------------------------------------------------------------------------------
\c - regress_cl_admin
SELECT prefactor.prefactor_grant_access('acme', 'regress_cl_reader', 'reader');
\c - regress_cl_admin
SELECT role_name, level FROM prefactor.prefactor_list_members('acme') ORDER BY role_name;
\c - regress_cl_admin
SELECT prefactor.prefactor_create_environment('acme', 'production') IS NOT NULL AS env_created;
\c - regress_cl_admin
SELECT prefactor.prefactor_create_environment('acme', 'staging', 'pre-release', 'env-staging') IS NOT NULL AS env_created;
-- a retry on yet another connection returns the first answer
\c - regress_cl_admin
SELECT prefactor.prefactor_create_environment('acme', 'staging', 'pre-release', 'env-staging') = e.id AS same_environment
  FROM prefactor.environments e WHERE e.name = 'staging';
\c - regress_cl_admin
SELECT prefactor.prefactor_register_agent('acme', 'support-bot', 'answers customers') IS NOT NULL AS agent_created;
\c - regress_cl_admin
SELECT prefactor.prefactor_register_agent('acme', 'idle-bot') IS NOT NULL AS agent_created;
-- what the admin made, read back on a new connection
\c - regress_cl_admin
SELECT name, description FROM prefactor.environments ORDER BY name;
SELECT name, description FROM prefactor.agents ORDER BY name;
SELECT role_name, level FROM prefactor.prefactor_list_members('acme') ORDER BY role_name;

------------------------------------------------------------------------------
-- Runs by the ingest role, each call on a new connection.
------------------------------------------------------------------------------
\set version '{"external_identifier": "v1.0.0", "name": "Support bot"}'
\set schema '{"external_identifier": "s1", "span_type_schemas": [{"name": "llm", "params_schema": {"type": "object", "required": ["model"]}, "result_schema": {"type": "object"}}, {"name": "tool:search", "params_schema": {"type": "object", "required": ["q"]}}]}'
\c - regress_cl_ingest
SELECT prefactor.prefactor_start_run('acme', 'support-bot', 'production', :'version', :'schema', idempotency_key => 'run-1') AS run1 \gset
-- a retry on another connection (the client reconnected) returns the first answer
\c - regress_cl_ingest
SELECT prefactor.prefactor_start_run('acme', 'support-bot', 'production', :'version', :'schema', idempotency_key => 'run-1') = :'run1'
	AS same_run_on_retry;
\c - regress_cl_ingest
SELECT prefactor.prefactor_register_run('acme', 'support-bot', 'staging', NULL, NULL, 'eval') AS pending_run \gset
\c - regress_cl_ingest
SELECT prefactor.prefactor_begin_run(:'pending_run');
\c - regress_cl_ingest
SELECT span_id AS root_span, terminate FROM prefactor.prefactor_start_span(:'run1', 'llm', '{"model": "small-1"}') \gset
SELECT :'terminate' AS terminate;
\c - regress_cl_ingest
SELECT terminate FROM prefactor.prefactor_record_span(:'run1', 'tool:search', '{"query": "refund"}', '{"hits": 3}',
	parent_span => :'root_span', idempotency_key => 'search-1');
\c - regress_cl_ingest
SELECT terminate FROM prefactor.prefactor_record_span(:'run1', 'tool:unknown', '{}', parent_span => :'root_span');
\c - regress_cl_ingest
SELECT terminate FROM prefactor.prefactor_finish_span(:'root_span', 'complete', '{"answer": "ok"}', idempotency_key => 'fin-root');
\c - regress_cl_ingest
SELECT prefactor.prefactor_record_quality(:'run1', 'helpfulness', '{"score": 4}');
\c - regress_cl_ingest
SELECT prefactor.prefactor_finish_run(:'run1', 'complete');
\c - regress_cl_ingest
SELECT prefactor.prefactor_terminate_run(:'pending_run', 'operator stop');
-- plain INSERT of a span by the ingest role passes the same triggers
\c - regress_cl_ingest
SELECT prefactor.prefactor_start_run('acme', 'support-bot', 'staging', NULL, NULL) AS run2 \gset
\c - regress_cl_ingest
INSERT INTO prefactor.spans (account_id, instance_id, span_type, payload)
SELECT account_id, id, 'llm', '{"prompt": "no model"}' FROM prefactor.instances WHERE id = :'run2';
\c - regress_cl_ingest
SELECT prefactor.prefactor_finish_run(:'run2', 'failed');
-- one run stays active
\c - regress_cl_ingest
SELECT prefactor.prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL) AS run3 \gset
\c - regress_cl_ingest
SELECT terminate FROM prefactor.prefactor_start_span(:'run3', 'llm', '{"model": "small-1"}');

-- What the runs hold, read by the ingest role.
\c - regress_cl_ingest
SELECT i.id = :'run1' AS is_run1, i.status, v.external_identifier AS version, sv.number AS schema_version,
	   e.name AS environment, i.purpose
  FROM prefactor.instances i
  JOIN prefactor.agent_versions v ON v.account_id = i.account_id AND v.id = i.version_id
  JOIN prefactor.activity_schema_versions sv ON sv.account_id = i.account_id AND sv.id = i.schema_version_id
  JOIN prefactor.environments e ON e.account_id = i.account_id AND e.id = i.environment_id
 ORDER BY i.registered_at;
SELECT span_type, status, parent_span_id IS NOT NULL AS nested, span_type_id IS NOT NULL AS declared,
	   validation, payload_conforms, result_conforms
  FROM prefactor.spans ORDER BY span_type, status;
SELECT name, payload FROM prefactor.instance_quality;

------------------------------------------------------------------------------
-- Deployments and retention by the admin, each first on its connection.
------------------------------------------------------------------------------
\c - regress_cl_admin
SELECT prefactor.prefactor_deploy('acme', 'support-bot', 'production', 'v1.0.0') IS NOT NULL AS deployed;
\c - regress_cl_admin
SELECT prefactor.prefactor_deploy('acme', 'support-bot', 'staging', 'v1.0.0', 'deploy-1') IS NOT NULL AS deployed;
\c - regress_cl_admin
SELECT agent, environment, version FROM prefactor.live_deployments ORDER BY environment;
-- ingest tokens: made, listed, revoked, each first on its connection
\c - regress_cl_admin
SELECT prefactor.prefactor_create_ingest_token('acme', 'support-bot', 'production') AS token \gset
SELECT split_part(:'token', '_', 2) AS token_id \gset
-- the ingest role starts a run with the token (the latest version), first on its connection
\c - regress_cl_ingest
SELECT prefactor.prefactor_start_run(:'token', NULL, NULL) AS token_run \gset
\c - regress_cl_ingest
SELECT e.name AS environment, v.external_identifier AS version, i.status
  FROM prefactor.instances i JOIN prefactor.environments e ON e.account_id = i.account_id AND e.id = i.environment_id
  JOIN prefactor.agent_versions v ON v.account_id = i.account_id AND v.id = i.version_id WHERE i.id = :'token_run';
\c - regress_cl_admin
SELECT agent, environment, status FROM prefactor.prefactor_list_ingest_tokens('acme');
\c - regress_cl_admin
SELECT prefactor.prefactor_set_ingest_token_expiry(:'token_id', 'infinity');
\c - regress_cl_admin
SELECT status, expires_at FROM prefactor.prefactor_list_ingest_tokens('acme');
\c - regress_cl_admin
SELECT prefactor.prefactor_revoke_ingest_token(:'token_id') AS revoked;
\c - regress_cl_admin
SELECT * FROM prefactor.prefactor_purge_runs('acme', now() + interval '1 minute');
\c - regress_cl_admin
SELECT status, count(*) FROM prefactor.instances GROUP BY status ORDER BY status;

------------------------------------------------------------------------------
-- What a level may not do: refused with insufficient_privilege (42501), each
-- on a new connection, and nothing is written.
------------------------------------------------------------------------------
\c - regress_cl_reader
SELECT prefactor.prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL);
\c - regress_cl_reader
SELECT prefactor.prefactor_create_environment('acme', 'reader-env');
\c - regress_cl_reader
INSERT INTO prefactor.environments (account_id, name) SELECT account_id, 'reader-env' FROM prefactor.accounts;
\c - regress_cl_reader
UPDATE prefactor.agents SET description = 'changed by a reader';
\c - regress_cl_reader
SELECT count(*) AS reader_sees_agents FROM prefactor.agents;
\c - regress_cl_ingest
SELECT prefactor.prefactor_create_environment('acme', 'ingest-env');
\c - regress_cl_ingest
SELECT prefactor.prefactor_register_agent('acme', 'ingest-bot');
\c - regress_cl_ingest
SELECT prefactor.prefactor_deploy('acme', 'support-bot', 'production', 'v1.0.0');
\c - regress_cl_ingest
SELECT * FROM prefactor.prefactor_purge_runs('acme', now());
\c - regress_cl_ingest
INSERT INTO prefactor.agents (account_id, name) SELECT account_id, 'ingest-bot' FROM prefactor.accounts;
\c - regress_cl_ingest
DELETE FROM prefactor.spans;
-- The audit trail holds for the ingest role too.
\set VERBOSITY sqlstate
\c - regress_cl_ingest
UPDATE prefactor.instances SET purpose = 'eval' WHERE status = 'active';
\set VERBOSITY terse
\c - regress_cl_ingest
UPDATE prefactor.spans SET payload_conforms = false WHERE status = 'active';
-- An outsider (a login role with no account) reaches nothing.
\c - regress_cl_outsider
SELECT prefactor.prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL);
\c - regress_cl_outsider
SELECT prefactor.prefactor_create_environment('acme', 'outsider-env');
\c - regress_cl_outsider
SELECT count(*) FROM prefactor.instances;

\c - regress_cl_admin
SELECT (SELECT count(*) FROM prefactor.environments) AS environments, (SELECT count(*) FROM prefactor.agents) AS agents,
	   (SELECT count(*) FROM prefactor.spans) AS spans;

-- A span timed a few milliseconds before its run (an agent's clock ahead of
-- the server's), stored by a plain INSERT of the ingest role on a new
-- connection: kept as sent, and the run's start moves back to it.
\c - regress_cl_ingest
SELECT prefactor.prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL) AS early_run \gset
\c - regress_cl_ingest
INSERT INTO prefactor.spans (account_id, instance_id, span_type, payload, started_at)
SELECT account_id, id, 'llm', '{"model": "small-1"}', started_at - interval '2 ms' FROM prefactor.instances WHERE id = :'early_run';
\c - regress_cl_ingest
SELECT i.started_at = s.started_at AS run_starts_with_its_first_span
  FROM prefactor.instances i JOIN prefactor.spans s ON s.account_id = i.account_id AND s.instance_id = i.id
 WHERE i.id = :'early_run';

------------------------------------------------------------------------------
-- Revoking access by the admin, first on its connection; the revoked role is
-- refused on its next connection.
------------------------------------------------------------------------------
\c - regress_cl_admin
SELECT prefactor.prefactor_revoke_access('acme', 'regress_cl_reader') AS revoked;
\c - regress_cl_reader
SELECT count(*) FROM prefactor.instances;

\c - :superuser
SET client_min_messages = warning;
DROP EXTENSION prefactor CASCADE;
DROP ROLE regress_cl_admin, regress_cl_ingest, regress_cl_reader, regress_cl_outsider;
CREATE EXTENSION prefactor;
