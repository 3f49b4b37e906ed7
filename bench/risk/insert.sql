-- Cost of live scoring on span insert: 100,000 spans by plain INSERT into
-- 1,000 runs of an agent with a profile, and into 1,000 runs of one without.
-- Both go through every span trigger (lifecycle guard, risk).
SET search_path = prefactor, public;
\timing on
CREATE TEMP TABLE runs AS
SELECT a.name AS agent, i.account_id, i.agent_id, i.version_id, i.schema_version_id, i.environment_id,
	   i.risk_profile_revision_id
  FROM instances i JOIN agents a ON a.id = i.agent_id
 WHERE i.id IN (SELECT DISTINCT ON (agent_id) id FROM instances ORDER BY agent_id, id);
\timing off
CREATE FUNCTION pg_temp.load(agent text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	ids pfid[];
BEGIN
	WITH r AS (
		INSERT INTO prefactor.instances (account_id, agent_id, version_id, schema_version_id, environment_id,
										 status, started_at, risk_profile_revision_id, risk_score, risk_level)
		SELECT account_id, agent_id, version_id, schema_version_id, environment_id, 'active', now(),
			   risk_profile_revision_id, CASE WHEN risk_profile_revision_id IS NOT NULL THEN 0 END,
			   CASE WHEN risk_profile_revision_id IS NOT NULL THEN 'low'::prefactor.risk_level END
		  FROM runs, generate_series(1, 1000) WHERE runs.agent = load.agent
		RETURNING id)
	SELECT array_agg(id) INTO ids FROM r;
	t0 := clock_timestamp();
	INSERT INTO prefactor.spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
	SELECT r.account_id, i, (ARRAY['llm', 'lookup', 'pay', 'email', 'chat'])[1 + g % 5], 'complete',
		   '{"prompt": "a typical short payload of an agent step"}', now(), now()
	  FROM runs r, unnest(ids) i, generate_series(1, 100) g WHERE r.agent = load.agent;
	RETURN round(extract(epoch FROM clock_timestamp() - t0)::numeric * 1000, 0);
END
$$;
SELECT pg_temp.load('plain-bot') IS NOT NULL AS warm_up;
SELECT 'without profile' AS runs, ms, round(100000 / (ms / 1000.0)) AS spans_per_second FROM pg_temp.load('plain-bot') ms
UNION ALL
SELECT 'with profile', ms, round(100000 / (ms / 1000.0)) FROM pg_temp.load('bot') ms
UNION ALL
SELECT 'without profile (again)', ms, round(100000 / (ms / 1000.0)) FROM pg_temp.load('plain-bot') ms
UNION ALL
SELECT 'with profile (again)', ms, round(100000 / (ms / 1000.0)) FROM pg_temp.load('bot') ms;
-- the live scores of the runs just loaded equal the aggregates
SELECT count(*) AS scored_runs, count(*) FILTER (WHERE prefactor.run_risk_score(i) = a.score) AS live_equals_aggregate
  FROM instances i
  JOIN (SELECT s.account_id, s.instance_id, risk_score(s.span_type_id, s.risk_profile_revision_id) AS score
		  FROM spans s JOIN instances r ON r.account_id = s.account_id AND r.id = s.instance_id
		 WHERE prefactor.run_risk_score(r) > 0
		 GROUP BY 1, 2) a ON a.account_id = i.account_id AND a.instance_id = i.id;
