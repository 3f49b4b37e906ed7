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
-- The runs are started in a transaction of their own, as clients start a run
-- before its spans arrive; only the span insert is timed.
CREATE TEMP TABLE new_runs (agent text, account_id pfid, id pfid);
CREATE FUNCTION pg_temp.start_runs(agent text) RETURNS void LANGUAGE sql AS $$
	DELETE FROM new_runs WHERE new_runs.agent = start_runs.agent;
	WITH r AS (
		INSERT INTO prefactor.instances (account_id, agent_id, version_id, schema_version_id, environment_id,
										 status, started_at, risk_profile_revision_id, risk_score, risk_level)
		SELECT account_id, agent_id, version_id, schema_version_id, environment_id, 'active', now(),
			   risk_profile_revision_id, CASE WHEN risk_profile_revision_id IS NOT NULL THEN 0 END,
			   CASE WHEN risk_profile_revision_id IS NOT NULL THEN 'low'::prefactor.risk_level END
		  FROM runs, generate_series(1, 1000) WHERE runs.agent = start_runs.agent
		RETURNING account_id, id)
	INSERT INTO new_runs SELECT start_runs.agent, account_id, id FROM r;
$$;
CREATE FUNCTION pg_temp.load(agent text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	INSERT INTO prefactor.spans (account_id, instance_id, span_type, status, payload, started_at, finished_at)
	SELECT r.account_id, r.id, (ARRAY['llm', 'lookup', 'pay', 'email', 'chat'])[1 + g % 5], 'complete',
		   '{"prompt": "a typical short payload of an agent step"}', now(), now()
	  FROM new_runs r, generate_series(1, 100) g WHERE r.agent = load.agent;
	RETURN round(extract(epoch FROM clock_timestamp() - t0)::numeric * 1000, 0);
END
$$;
SELECT pg_temp.start_runs('plain-bot');
SELECT pg_temp.load('plain-bot') IS NOT NULL AS warm_up;
-- five interleaved rounds, each load into runs started just before it;
-- the target (issue #13) is at least 0.8, judged on the medians
CREATE TEMP TABLE loads (runs text, ms numeric);
SELECT pg_temp.start_runs('plain-bot'), pg_temp.start_runs('bot');
INSERT INTO loads SELECT 'without profile', pg_temp.load('plain-bot');
INSERT INTO loads SELECT 'with profile', pg_temp.load('bot');
SELECT pg_temp.start_runs('plain-bot'), pg_temp.start_runs('bot');
INSERT INTO loads SELECT 'with profile', pg_temp.load('bot');
INSERT INTO loads SELECT 'without profile', pg_temp.load('plain-bot');
SELECT pg_temp.start_runs('plain-bot'), pg_temp.start_runs('bot');
INSERT INTO loads SELECT 'without profile', pg_temp.load('plain-bot');
INSERT INTO loads SELECT 'with profile', pg_temp.load('bot');
SELECT pg_temp.start_runs('plain-bot'), pg_temp.start_runs('bot');
INSERT INTO loads SELECT 'with profile', pg_temp.load('bot');
INSERT INTO loads SELECT 'without profile', pg_temp.load('plain-bot');
SELECT pg_temp.start_runs('plain-bot'), pg_temp.start_runs('bot');
INSERT INTO loads SELECT 'without profile', pg_temp.load('plain-bot');
INSERT INTO loads SELECT 'with profile', pg_temp.load('bot');
SELECT runs, string_agg(ms::text, ' ' ORDER BY ms) AS ms_each,
	   round(100000 / (percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric / 1000)) AS median_spans_per_second
  FROM loads GROUP BY runs ORDER BY runs DESC;
SELECT round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM loads WHERE runs = 'without profile')::numeric
			 / (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM loads WHERE runs = 'with profile')::numeric, 2)
	   AS with_over_without,
	   CASE WHEN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM loads WHERE runs = 'without profile')
				 / (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM loads WHERE runs = 'with profile') >= 0.8
			THEN 'met (>= 0.8)' ELSE 'MISSED (< 0.8)' END AS target;
-- the live scores of the runs just loaded equal the aggregates
SELECT count(*) AS scored_runs, count(*) FILTER (WHERE prefactor.run_risk_score(i) = a.score) AS live_equals_aggregate
  FROM instances i
  JOIN (SELECT s.account_id, s.instance_id, risk_score(s.span_type_id, s.risk_profile_revision_id) AS score
		  FROM spans s JOIN instances r ON r.account_id = s.account_id AND r.id = s.instance_id
		 WHERE prefactor.run_risk_score(r) > 0
		 GROUP BY 1, 2) a ON a.account_id = i.account_id AND a.instance_id = i.id;
