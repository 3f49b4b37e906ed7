-- The sample workload generator: deterministic for a seed, idempotent set-up, realistic mix.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
CREATE EXTENSION prefactor;
CREATE EXTENSION prefactor_sample;
RESET client_min_messages;
SET search_path = prefactor, public;
SET TimeZone = 'UTC';

SELECT * FROM generate_sample('sample', 120, 0.42, '2025-06-01 12:00+00');
-- The set-up: three environments, two agents with two risk profiles.
SELECT name, description FROM environments ORDER BY name;
SELECT g.name, p.name AS risk_profile, r.revision
  FROM agents g JOIN risk_profiles p ON p.account_id = g.account_id AND p.id = g.risk_profile_id
  JOIN risk_profile_revisions r ON r.account_id = p.account_id AND r.risk_profile_id = p.id ORDER BY g.name;
-- Runs by agent, environment, purpose and status; all in the 7 days before until.
SELECT agent, environment, purpose, status, count(*) AS runs
  FROM instance_summary GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
SELECT min(coalesce(started_at, registered_at)) >= '2025-05-25 12:00+00' AS after_start,
	   max(started_at) <= '2025-06-01 12:00+00' AS before_until
  FROM instances WHERE started_at IS NOT NULL;
-- Versions paired with schema versions, and the deployment history.
SELECT agent, version, schema_version, schema_identifier, runs FROM version_history ORDER BY agent, version;
SELECT agent, environment, version, deployed_at, retired_at, live FROM deployment_history
 ORDER BY agent, environment, deployed_at;
-- Spans by type and status, with nesting under business-level parents.
SELECT span_type, status, count(*) AS spans, count(parent_span_id) AS nested, count(*) - count(span_type_id) AS undeclared
  FROM spans GROUP BY 1, 2 ORDER BY 1, 2;
SELECT max(t.depth) AS deepest
  FROM instances i CROSS JOIN LATERAL prefactor_span_timeline(i.id) t;
-- Payloads meant to mismatch their schemas are there (the validation feature flags them).
SELECT count(*) FILTER (WHERE span_type = 'tool:web_search' AND NOT payload ? 'query') AS web_search_without_query,
	   count(*) FILTER (WHERE span_type = 'llm' AND result IS NOT NULL AND NOT result ? 'tokens' AND status = 'complete') AS llm_without_tokens,
	   count(*) FILTER (WHERE span_type = 'tool:read_file' AND payload->>'path' NOT LIKE '/%') AS relative_paths,
	   count(*) FILTER (WHERE span_type = 'tool:lookup_order' AND span_type_id IS NOT NULL
						AND payload->>'order_id' !~ '^ORD-[0-9]{6}$') AS bad_order_ids
  FROM spans;
-- Validation ran: every span has a verdict, the web searches above that lack "query" are each
-- flagged, and the runs' mismatch counts add up to the flagged spans.
SELECT count(*) FILTER (WHERE validation IS NULL) AS unvalidated,
	   count(*) FILTER (WHERE validation = 'validated') AS validated,
	   count(*) FILTER (WHERE span_type = 'tool:web_search' AND NOT payload ? 'query'
						AND payload_conforms IS FALSE) AS web_search_without_query_flagged,
	   count(*) FILTER (WHERE payload_conforms IS FALSE OR result_conforms IS FALSE) AS mismatching_spans,
	   (SELECT sum(schema_mismatches) FROM instance_summary) AS summary_mismatches
  FROM spans;
SELECT count(*) AS quality_evaluations FROM instance_quality;

-- Equal arguments give equal data (ids apart): a second account from the same seed.
SELECT * FROM generate_sample('sample-again', 120, 0.42, '2025-06-01 12:00+00');
SELECT count(*) AS differing_runs FROM (
	(SELECT agent, environment, version, status, started_at, finished_at, spans FROM instance_summary i
	  JOIN accounts a ON a.account_id = i.account_id WHERE a.name = 'sample'
	 EXCEPT ALL
	 SELECT agent, environment, version, status, started_at, finished_at, spans FROM instance_summary i
	  JOIN accounts a ON a.account_id = i.account_id WHERE a.name = 'sample-again')) d;

-- Calling it again adds runs and reuses the set-up; the deployment history is made once.
SELECT * FROM generate_sample('sample', 10, 0.1, '2025-06-02 12:00+00');
SELECT (SELECT count(*) FROM environments) AS environments, (SELECT count(*) FROM agents) AS agents,
	   (SELECT count(*) FROM risk_profiles) AS risk_profiles,
	   (SELECT count(*) FROM instances i JOIN accounts a USING (account_id) WHERE a.name = 'sample') AS runs,
	   (SELECT count(*) FROM agent_deployments d JOIN accounts a USING (account_id) WHERE a.name = 'sample') AS deployments;

-- Bad arguments.
\set VERBOSITY terse
SELECT * FROM generate_sample('sample', -1);
SELECT * FROM generate_sample('sample', 1, days => 0);
SELECT * FROM generate_sample('sample', 1, seed => 2);
