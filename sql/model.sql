-- The data model: composite account keys, names, deployments, vocabularies.
SET search_path = prefactor, public;
\set VERBOSITY terse

-- Two accounts; every id carries its account's partition.
INSERT INTO accounts (account_id, partition, name)
VALUES (pfid_generate(101), 101, 'acme'), (pfid_generate(202), 202, 'globex');
CREATE TEMP VIEW a AS SELECT account_id AS acme FROM accounts WHERE name = 'acme';
CREATE TEMP VIEW b AS SELECT account_id AS globex FROM accounts WHERE name = 'globex';

INSERT INTO environments (account_id, name) SELECT acme, 'production' FROM a;
INSERT INTO environments (account_id, name) SELECT globex, 'production' FROM b;
INSERT INTO agents (account_id, name) SELECT acme, 'support-bot' FROM a;
INSERT INTO agents (account_id, name) SELECT globex, 'support-bot' FROM b;
SELECT count(*) AS ids_in_account_partition
  FROM (SELECT account_id, id FROM environments UNION ALL SELECT account_id, id FROM agents) r
 WHERE pfid_partition(r.id) = pfid_partition(r.account_id);

-- account_of keeps no answer from a transaction that rolled back.
BEGIN;
INSERT INTO accounts (account_id, partition, name) VALUES (pfid_build(1, 404, '\x00000000000000000001'), 404, 'gone');
SELECT account_of(pfid_build(5, 404, '\x00000000000000000009')) = pfid_build(1, 404, '\x00000000000000000001') AS seen_inside;
ROLLBACK;
INSERT INTO accounts (account_id, partition, name) VALUES (pfid_build(2, 404, '\x00000000000000000002'), 404, 'initech');
SELECT account_of(pfid_build(5, 404, '\x00000000000000000009')) = pfid_build(2, 404, '\x00000000000000000002') AS current_answer;

-- An id from another partition is refused.
INSERT INTO environments (account_id, id, name) SELECT acme, pfid_generate(202), 'staging' FROM a;
-- Duplicate names per account are refused; the same name in another account is fine.
INSERT INTO environments (account_id, name) SELECT acme, 'production' FROM a;
INSERT INTO agents (account_id, name) SELECT acme, 'support-bot' FROM a;
INSERT INTO accounts (account_id, partition, name) VALUES (pfid_generate(303), 303, 'acme');
INSERT INTO accounts (account_id, partition, name) VALUES (pfid_generate(304), 305, 'mismatch');
-- Empty names are refused.
INSERT INTO agents (account_id, name) SELECT acme, '' FROM a;

-- Schema versions, span types, versions.
INSERT INTO activity_schema_versions (account_id, agent_id, number, content, content_digest)
SELECT account_id, id, 1, '{"span_type_schemas": []}', '\x01' FROM agents;
INSERT INTO span_types (account_id, schema_version_id, name, params_schema)
SELECT account_id, id, 'llm', '{"type": "object"}' FROM activity_schema_versions;
INSERT INTO span_types (account_id, schema_version_id, name)
SELECT account_id, id, 'llm' FROM activity_schema_versions LIMIT 1;
INSERT INTO agent_versions (account_id, agent_id, schema_version_id, external_identifier, metadata, metadata_digest)
SELECT account_id, agent_id, id, 'v1', '{"external_identifier": "v1"}', '\x01' FROM activity_schema_versions;

-- Cross-account references fail: acme's agent with globex's schema version.
INSERT INTO agent_versions (account_id, agent_id, schema_version_id, metadata, metadata_digest)
SELECT a.account_id, a.id, s.id, '{}', '\x02'
  FROM agents a, activity_schema_versions s
 WHERE a.account_id = (SELECT acme FROM a) AND s.account_id = (SELECT globex FROM b);
-- ... and a deployment of acme's agent into globex's environment.
INSERT INTO agent_deployments (account_id, agent_id, environment_id, version_id)
SELECT v.account_id, v.agent_id, e.id, v.id
  FROM agent_versions v, environments e
 WHERE v.account_id = (SELECT acme FROM a) AND e.account_id = (SELECT globex FROM b);

-- At most one active deployment per agent and environment; history is kept.
INSERT INTO agent_deployments (account_id, agent_id, environment_id, version_id)
SELECT v.account_id, v.agent_id, e.id, v.id
  FROM agent_versions v JOIN environments e USING (account_id);
INSERT INTO agent_deployments (account_id, agent_id, environment_id, version_id)
SELECT v.account_id, v.agent_id, e.id, v.id
  FROM agent_versions v JOIN environments e USING (account_id) WHERE v.account_id = (SELECT acme FROM a);
UPDATE agent_deployments SET retired_at = now() WHERE account_id = (SELECT acme FROM a);
INSERT INTO agent_deployments (account_id, agent_id, environment_id, version_id)
SELECT v.account_id, v.agent_id, e.id, v.id
  FROM agent_versions v JOIN environments e USING (account_id) WHERE v.account_id = (SELECT acme FROM a);
SELECT count(*) AS deployments, count(*) FILTER (WHERE retired_at IS NULL) AS active
  FROM agent_deployments WHERE account_id = (SELECT acme FROM a);

-- Instances and spans: vocabularies and times.
INSERT INTO instances (account_id, agent_id, version_id, schema_version_id, environment_id, status, started_at)
SELECT v.account_id, v.agent_id, v.id, v.schema_version_id, e.id, 'active', '2024-01-01 09:00:00+00'
  FROM agent_versions v JOIN environments e USING (account_id);
-- a status outside the vocabulary
INSERT INTO instances (account_id, agent_id, version_id, schema_version_id, environment_id, status, started_at, finished_at)
SELECT v.account_id, v.agent_id, v.id, v.schema_version_id, e.id, 'succeeded', now(), now()
  FROM agent_versions v JOIN environments e USING (account_id);
INSERT INTO instances (account_id, agent_id, version_id, schema_version_id, environment_id, purpose)
SELECT v.account_id, v.agent_id, v.id, v.schema_version_id, e.id, 'demo'
  FROM agent_versions v JOIN environments e USING (account_id);
-- a finished status needs a finish time
INSERT INTO instances (account_id, agent_id, version_id, schema_version_id, environment_id, status, started_at)
SELECT v.account_id, v.agent_id, v.id, v.schema_version_id, e.id, 'complete', now()
  FROM agent_versions v JOIN environments e USING (account_id);
-- the run rules are the guard triggers', on INSERT and UPDATE alike
INSERT INTO instances (account_id, id, agent_id, version_id, schema_version_id, environment_id)
SELECT v.account_id, pfid_generate(202), v.agent_id, v.id, v.schema_version_id, e.id
  FROM agent_versions v JOIN environments e USING (account_id) WHERE v.account_id = (SELECT acme FROM a);
\set VERBOSITY default
INSERT INTO instances (account_id, agent_id, version_id, schema_version_id, environment_id, status)
SELECT v.account_id, v.agent_id, v.id, v.schema_version_id, e.id, 'active'
  FROM agent_versions v JOIN environments e USING (account_id) WHERE v.account_id = (SELECT acme FROM a);
UPDATE instances SET status = 'paused' WHERE account_id = (SELECT acme FROM a);
\set VERBOSITY terse
UPDATE instances SET status = 'complete', finished_at = started_at - interval '1 second'
 WHERE account_id = (SELECT acme FROM a);
INSERT INTO spans (account_id, instance_id, span_type, status, finished_at)
SELECT account_id, id, 'llm', 'done', now() FROM instances;
-- a span cannot be its own parent
INSERT INTO spans (account_id, id, instance_id, parent_span_id, span_type)
SELECT account_id, pfid_build(1, pfid_partition(account_id), '\x00000000000000000001'), id,
       pfid_build(1, pfid_partition(account_id), '\x00000000000000000001'), 'llm' FROM instances LIMIT 1;
INSERT INTO spans (account_id, instance_id, span_type, started_at, finished_at, status)
SELECT account_id, id, 'llm', now(), now() - interval '1 second', 'complete' FROM instances;
INSERT INTO spans (account_id, instance_id, span_type, status, started_at, finished_at)
SELECT account_id, id, 'agent', 'complete', '2024-01-01 10:00:00+00', '2024-01-01 10:00:02.5+00' FROM instances;
SELECT span_type, s.duration FROM spans s ORDER BY account_id;
-- The span row rules are the guard triggers' (check_violation under the
-- constraint names), on INSERT and on UPDATE alike.
INSERT INTO spans (account_id, id, instance_id, span_type)
SELECT acme, pfid_generate(202), i.id, 'llm' FROM a JOIN instances i ON i.account_id = acme;
\set VERBOSITY default
INSERT INTO spans (account_id, instance_id, span_type, status, finished_at)
SELECT acme, i.id, 'llm', 'active', now() FROM a JOIN instances i ON i.account_id = acme;
INSERT INTO spans (account_id, instance_id, span_type, status)
SELECT acme, i.id, 'llm', 'failed' FROM a JOIN instances i ON i.account_id = acme;
INSERT INTO spans (account_id, instance_id, span_type, status, started_at)
SELECT acme, i.id, 'tool', 'active', '2024-01-01 10:00:00+00' FROM a JOIN instances i ON i.account_id = acme;
UPDATE spans SET status = 'done' WHERE span_type = 'tool';
UPDATE spans SET status = 'complete' WHERE span_type = 'tool';
UPDATE spans SET status = 'complete', finished_at = '2024-01-01 09:59:59+00' WHERE span_type = 'tool';
\set VERBOSITY terse
UPDATE spans SET status = 'complete', finished_at = '2024-01-01 10:00:01+00' WHERE span_type = 'tool';
SELECT span_type, status, s.duration FROM spans s WHERE span_type = 'tool';
-- A parent span must belong to the same instance (and account).
INSERT INTO spans (account_id, instance_id, parent_span_id, span_type)
SELECT i.account_id, i.id, s.id, 'child'
  FROM instances i, spans s WHERE i.account_id <> s.account_id LIMIT 1;
INSERT INTO spans (account_id, instance_id, parent_span_id, span_type)
SELECT s.account_id, s.instance_id, s.id, 'child' FROM spans s WHERE s.account_id = (SELECT acme FROM a);
SELECT count(*) AS child_spans FROM spans WHERE parent_span_id IS NOT NULL;

-- Risk profile thresholds must ascend with medium > 0.
INSERT INTO risk_profiles (account_id, name) SELECT acme, 'baseline' FROM a;
INSERT INTO risk_profile_revisions (account_id, risk_profile_id, revision, medium_threshold, high_threshold, critical_threshold)
SELECT account_id, id, 1, 0, 50, 100 FROM risk_profiles;
INSERT INTO risk_profile_revisions (account_id, risk_profile_id, revision, medium_threshold, high_threshold, critical_threshold)
SELECT account_id, id, 1, 20, 10, 100 FROM risk_profiles;
INSERT INTO risk_profile_revisions (account_id, risk_profile_id, revision, medium_threshold, high_threshold, critical_threshold)
SELECT account_id, id, 1, 20, 50, 100 FROM risk_profiles;
SELECT 'low'::risk_level < 'critical'::risk_level AS ordered,
       max(l) AS peak FROM unnest('{medium,low,high}'::risk_level[]) l;

-- Every table is registered for pg_dump.
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'prefactor' AND c.relkind IN ('r', 'S')
   AND c.oid NOT IN (SELECT unnest(extconfig) FROM pg_extension WHERE extname = 'prefactor');

-- DROP EXTENSION removes everything it made.
DROP EXTENSION prefactor CASCADE;
SELECT count(*) AS leftover FROM pg_namespace WHERE nspname = 'prefactor';
SELECT count(*) AS leftover_types FROM pg_type WHERE typname IN ('pfid', 'risk_level');
CREATE EXTENSION prefactor;
