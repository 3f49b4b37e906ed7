------------------------------------------------------------------------------
-- Views for BI tools (issue #7): stable names, a comment on every view and
-- column. All are security_invoker, so the caller's row-level security
-- applies to every table they read. Each is written so that a filter on its
-- account, agent, environment, instance or run start reaches the table
-- indexes: per-row figures come from LATERAL subqueries driven by the outer
-- row, never from aggregates or window functions over whole tables. The span
-- timeline needs a recursive walk, which a view cannot restrict to one run,
-- so it is a function of the run. The views that look runs or deployments
-- up (instance_summary, deployment_history, live_deployments) left-join the
-- name tables (agents, versions, schema versions, environments): every key
-- to them is NOT NULL with a foreign key, so the rows are those of inner
-- joins, but inner joins on (account_id, id) put every relation in one
-- account_id equivalence class and the planner weighs every join order
-- (3-5 ms of planning for instance_summary, against about 1 ms), and a left
-- join that a query does not read is removed. The views that aggregate a
-- whole history keep inner joins: planning is small beside their execution,
-- and inner joins let the planner join the small tables first (risk_by_day
-- took 160 ms so, 210-260 ms with left joins).
------------------------------------------------------------------------------

-- How a span compared with its declared shape, in one word.
CREATE OR REPLACE FUNCTION span_conformance(payload_conforms boolean, result_conforms boolean, validation text,
								 span_type_id pfid)
	RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN CASE WHEN payload_conforms = false OR result_conforms = false THEN 'mismatch'
				WHEN validation = 'undeclared' OR span_type_id IS NULL THEN 'undeclared'
				WHEN validation = 'schema_invalid' THEN 'schema_invalid'
				WHEN validation = 'validated' THEN 'conforms'
				ELSE 'unchecked' END;
COMMENT ON FUNCTION span_conformance(boolean, boolean, text, pfid) IS
	'mismatch (payload or result failed its JSON Schema), undeclared, schema_invalid, conforms, or unchecked (not validated, or a validation limit stopped it)';

------------------------------------------------------------------------------
-- Agent activity over the last 24 hours
------------------------------------------------------------------------------
CREATE OR REPLACE VIEW agent_activity_24h WITH (security_invoker = true) AS
SELECT g.account_id, g.id AS agent_id, g.name AS agent, e.id AS environment_id, e.name AS environment,
	   c.pending, c.active, c.complete, c.failed, c.cancelled, c.terminated, c.total,
	   now() - interval '24 hours' AS window_start
  FROM prefactor.agents g
  JOIN prefactor.environments e ON e.account_id = g.account_id
 CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE r.status = 'pending') AS pending,
		   count(*) FILTER (WHERE r.status = 'active') AS active,
		   count(*) FILTER (WHERE r.status = 'complete') AS complete,
		   count(*) FILTER (WHERE r.status = 'failed') AS failed,
		   count(*) FILTER (WHERE r.status = 'cancelled') AS cancelled,
		   count(*) FILTER (WHERE r.status = 'terminated') AS terminated,
		   count(*) AS total
	  FROM (SELECT i.status
			  FROM prefactor.instances i
			 WHERE i.account_id = g.account_id AND i.agent_id = g.id AND i.environment_id = e.id
			   AND i.started_at >= now() - interval '24 hours'
			UNION ALL
			-- a pending run has no start time yet: count it by its registration
			SELECT i.status
			  FROM prefactor.instances i
			 WHERE i.account_id = g.account_id AND i.agent_id = g.id AND i.environment_id = e.id
			   AND i.started_at IS NULL AND i.registered_at >= now() - interval '24 hours') r
 ) c;
COMMENT ON VIEW agent_activity_24h IS
	'Runs of each agent in each environment that started (or, while pending, were registered) in the last 24 hours, counted by state; every agent and environment pair appears, idle ones with zeros';
COMMENT ON COLUMN agent_activity_24h.account_id IS 'Account of the agent and environment';
COMMENT ON COLUMN agent_activity_24h.agent_id IS 'Agent id';
COMMENT ON COLUMN agent_activity_24h.agent IS 'Agent name';
COMMENT ON COLUMN agent_activity_24h.environment_id IS 'Environment id';
COMMENT ON COLUMN agent_activity_24h.environment IS 'Environment name';
COMMENT ON COLUMN agent_activity_24h.pending IS 'Runs registered but not started';
COMMENT ON COLUMN agent_activity_24h.active IS 'Runs in progress';
COMMENT ON COLUMN agent_activity_24h.complete IS 'Runs finished as complete';
COMMENT ON COLUMN agent_activity_24h.failed IS 'Runs finished as failed';
COMMENT ON COLUMN agent_activity_24h.cancelled IS 'Runs cancelled';
COMMENT ON COLUMN agent_activity_24h.terminated IS 'Runs terminated by control (prefactor_terminate_run or risk)';
COMMENT ON COLUMN agent_activity_24h.total IS 'All runs in the window (sum of the states)';
COMMENT ON COLUMN agent_activity_24h.window_start IS 'Start of the window: now() - 24 hours';

------------------------------------------------------------------------------
-- Instance summary
------------------------------------------------------------------------------
CREATE OR REPLACE VIEW instance_summary WITH (security_invoker = true) AS
SELECT i.account_id, i.id AS instance_id,
	   i.agent_id, g.name AS agent,
	   i.version_id, v.external_identifier AS version,
	   i.schema_version_id, sv.number AS schema_version, sv.external_identifier AS schema_identifier,
	   i.environment_id, e.name AS environment,
	   i.purpose, i.status,
	   i.registered_at, i.started_at, i.finished_at, i.finished_at - i.started_at AS duration,
	   c.spans, c.spans_pending, c.spans_active, c.spans_complete, c.spans_failed, c.spans_cancelled,
	   c.schema_mismatches, c.undeclared_spans,
	   -- run_risk_score(i), spelled out: Citus cannot ship a whole-row argument to the shards
	   CASE WHEN i.risk_profile_revision_id IS NOT NULL THEN greatest(i.risk_score, c.risk_total) END AS risk_score,
	   i.risk_level,
	   i.status = 'terminated' AS terminated, i.termination_reason
  FROM prefactor.instances i
  LEFT JOIN prefactor.agents g ON g.account_id = i.account_id AND g.id = i.agent_id
  LEFT JOIN prefactor.agent_versions v ON v.account_id = i.account_id AND v.id = i.version_id
  LEFT JOIN prefactor.activity_schema_versions sv ON sv.account_id = i.account_id AND sv.id = i.schema_version_id
  LEFT JOIN prefactor.environments e ON e.account_id = i.account_id AND e.id = i.environment_id
  LEFT JOIN LATERAL (
	SELECT count(*) AS spans,
		   count(*) FILTER (WHERE s.status = 'pending') AS spans_pending,
		   count(*) FILTER (WHERE s.status = 'active') AS spans_active,
		   count(*) FILTER (WHERE s.status = 'complete') AS spans_complete,
		   count(*) FILTER (WHERE s.status = 'failed') AS spans_failed,
		   count(*) FILTER (WHERE s.status = 'cancelled') AS spans_cancelled,
		   count(*) FILTER (WHERE s.payload_conforms = false OR s.result_conforms = false) AS schema_mismatches,
		   count(*) FILTER (WHERE s.validation = 'undeclared' OR s.span_type_id IS NULL) AS undeclared_spans,
		   max(s.risk_total) AS risk_total
	  FROM prefactor.spans s
	 WHERE s.account_id = i.account_id AND s.instance_id = i.id
 ) c ON true;
COMMENT ON VIEW instance_summary IS
	'One row per run: agent, version, schema version, environment, purpose, status, times, span counts by status, schema mismatches, risk, termination';
COMMENT ON COLUMN instance_summary.account_id IS 'Account of the run';
COMMENT ON COLUMN instance_summary.instance_id IS 'Run (instance) id';
COMMENT ON COLUMN instance_summary.agent_id IS 'Agent id';
COMMENT ON COLUMN instance_summary.agent IS 'Agent name';
COMMENT ON COLUMN instance_summary.version_id IS 'Agent version id the run reported';
COMMENT ON COLUMN instance_summary.version IS 'External identifier of the version (tag, commit, ...)';
COMMENT ON COLUMN instance_summary.schema_version_id IS 'Activity schema version id the run reported';
COMMENT ON COLUMN instance_summary.schema_version IS 'Number of the schema version within the agent (1, 2, ...)';
COMMENT ON COLUMN instance_summary.schema_identifier IS 'External identifier of the schema version, if sent';
COMMENT ON COLUMN instance_summary.environment_id IS 'Environment id';
COMMENT ON COLUMN instance_summary.environment IS 'Environment name';
COMMENT ON COLUMN instance_summary.purpose IS 'live, smoke_test or eval';
COMMENT ON COLUMN instance_summary.status IS 'pending, active, complete, failed, cancelled or terminated';
COMMENT ON COLUMN instance_summary.registered_at IS 'When the run was registered';
COMMENT ON COLUMN instance_summary.started_at IS 'When the run started; null while pending';
COMMENT ON COLUMN instance_summary.finished_at IS 'When the run ended; null while pending or active';
COMMENT ON COLUMN instance_summary.duration IS 'finished_at - started_at; null until the run ends';
COMMENT ON COLUMN instance_summary.spans IS 'Spans recorded in the run';
COMMENT ON COLUMN instance_summary.spans_pending IS 'Spans with status pending';
COMMENT ON COLUMN instance_summary.spans_active IS 'Spans with status active';
COMMENT ON COLUMN instance_summary.spans_complete IS 'Spans with status complete';
COMMENT ON COLUMN instance_summary.spans_failed IS 'Spans with status failed';
COMMENT ON COLUMN instance_summary.spans_cancelled IS 'Spans with status cancelled';
COMMENT ON COLUMN instance_summary.schema_mismatches IS 'Spans whose payload or result did not match the declared JSON Schema';
COMMENT ON COLUMN instance_summary.undeclared_spans IS 'Spans whose type the run''s schema version does not declare';
COMMENT ON COLUMN instance_summary.risk_score IS 'Risk score under the run''s risk profile revision, exact at every moment (the running total of an active run); null when the run has none';
COMMENT ON COLUMN instance_summary.risk_level IS 'Risk level (low < medium < high < critical); null when unscored';
COMMENT ON COLUMN instance_summary.terminated IS 'True when the run was ended by control (status terminated)';
COMMENT ON COLUMN instance_summary.termination_reason IS 'Why the run was terminated';

------------------------------------------------------------------------------
-- Span timeline of one run
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION prefactor_span_timeline(instance pfid)
	RETURNS TABLE (ordinal bigint, span_id pfid, parent_span_id pfid, depth int, path text, path_ids pfid[],
				   span_type text, status text, started_at timestamptz, finished_at timestamptz,
				   offset_from_start interval, duration interval, conformance text,
				   payload_errors jsonb, result_errors jsonb)
	-- PL/pgSQL, not SQL: the account is found first and passed to the query as
	-- a value, so that on Citus the query goes to the one shard of the account
	-- (Citus plans no parameterised SQL function over distributed tables)
	LANGUAGE plpgsql STABLE
AS $$
#variable_conflict use_column
DECLARE
	account prefactor.pfid := prefactor.account_of(instance);
BEGIN
	RETURN QUERY
	-- The run's spans are read once through spans_instance_started, then walked from the roots.
	WITH RECURSIVE run_spans AS MATERIALIZED (
		SELECT s.id, s.parent_span_id, s.span_type, s.status, s.started_at, s.finished_at,
			   s.payload_conforms, s.result_conforms, s.validation, s.span_type_id, s.payload_errors, s.result_errors
		  FROM prefactor.spans s
		 WHERE s.account_id = account AND s.instance_id = instance
	), tree AS (
		SELECT r.id, 0 AS depth, r.span_type AS path, ARRAY[r.id] AS path_ids
		  FROM run_spans r WHERE r.parent_span_id IS NULL
		UNION ALL
		SELECT c.id, t.depth + 1, t.path || ' > ' || c.span_type, t.path_ids || c.id
		  FROM tree t JOIN run_spans c ON c.parent_span_id = t.id
	)
	SELECT row_number() OVER (ORDER BY r.started_at, r.id), r.id, r.parent_span_id, t.depth, t.path, t.path_ids,
		   r.span_type, r.status, r.started_at, r.finished_at,
		   r.started_at - (SELECT i.started_at FROM prefactor.instances i
							WHERE i.account_id = account AND i.id = instance),
		   r.finished_at - r.started_at,
		   prefactor.span_conformance(r.payload_conforms, r.result_conforms, r.validation, r.span_type_id),
		   r.payload_errors, r.result_errors
	  FROM run_spans r JOIN tree t ON t.id = r.id
	 ORDER BY r.started_at, r.id;
END
$$;
COMMENT ON FUNCTION prefactor_span_timeline(pfid) IS
	'The spans of one run in start order: ordinal (1, 2, ...), parent, depth (0 = root), path of span types from the root (and of ids), offset from the run''s start, duration, status and conformance (mismatch, undeclared, schema_invalid, conforms, unchecked) with the validation errors';

------------------------------------------------------------------------------
-- Schema conformance per agent, schema version and span type
------------------------------------------------------------------------------
CREATE OR REPLACE VIEW schema_conformance WITH (security_invoker = true) AS
SELECT sv.account_id, sv.agent_id, g.name AS agent,
	   sv.id AS schema_version_id, sv.number AS schema_version, sv.external_identifier AS schema_identifier,
	   c.span_type, c.declared, c.spans, c.validated, c.mismatches, c.payload_mismatches, c.result_mismatches,
	   round(c.mismatches::numeric / c.spans, 4) AS mismatch_rate,
	   c.last_mismatch_at, c.last_seen_at
  FROM prefactor.activity_schema_versions sv
  JOIN prefactor.agents g ON g.account_id = sv.account_id AND g.id = sv.agent_id
 CROSS JOIN LATERAL (
	SELECT s.span_type,
		   bool_or(s.span_type_id IS NOT NULL) AS declared,
		   count(*) AS spans,
		   count(*) FILTER (WHERE s.validation = 'validated') AS validated,
		   count(*) FILTER (WHERE s.payload_conforms = false OR s.result_conforms = false) AS mismatches,
		   count(*) FILTER (WHERE s.payload_conforms = false) AS payload_mismatches,
		   count(*) FILTER (WHERE s.result_conforms = false) AS result_mismatches,
		   max(s.started_at) FILTER (WHERE s.payload_conforms = false OR s.result_conforms = false) AS last_mismatch_at,
		   max(s.started_at) AS last_seen_at
	  FROM prefactor.instances i
	  JOIN prefactor.spans s ON s.account_id = i.account_id AND s.instance_id = i.id
	 WHERE i.account_id = sv.account_id AND i.agent_id = sv.agent_id AND i.schema_version_id = sv.id
	 GROUP BY s.span_type
 ) c;
COMMENT ON VIEW schema_conformance IS
	'For each agent, schema version and span type seen in its runs: spans, mismatches against the declared JSON Schemas, mismatch rate and the most recent mismatch';
COMMENT ON COLUMN schema_conformance.account_id IS 'Account of the agent';
COMMENT ON COLUMN schema_conformance.agent_id IS 'Agent id';
COMMENT ON COLUMN schema_conformance.agent IS 'Agent name';
COMMENT ON COLUMN schema_conformance.schema_version_id IS 'Activity schema version id';
COMMENT ON COLUMN schema_conformance.schema_version IS 'Number of the schema version within the agent';
COMMENT ON COLUMN schema_conformance.schema_identifier IS 'External identifier of the schema version, if sent';
COMMENT ON COLUMN schema_conformance.span_type IS 'Span type name as recorded';
COMMENT ON COLUMN schema_conformance.declared IS 'Whether the schema version declares this span type';
COMMENT ON COLUMN schema_conformance.spans IS 'Spans of this type in runs under this schema version';
COMMENT ON COLUMN schema_conformance.validated IS 'Spans checked against the declared JSON Schemas';
COMMENT ON COLUMN schema_conformance.mismatches IS 'Spans whose payload or result did not match';
COMMENT ON COLUMN schema_conformance.payload_mismatches IS 'Spans whose payload did not match the params schema';
COMMENT ON COLUMN schema_conformance.result_mismatches IS 'Spans whose result did not match the result schema';
COMMENT ON COLUMN schema_conformance.mismatch_rate IS 'mismatches / spans, rounded to 4 places';
COMMENT ON COLUMN schema_conformance.last_mismatch_at IS 'Start time of the most recent mismatching span; null if none';
COMMENT ON COLUMN schema_conformance.last_seen_at IS 'Start time of the most recent span of this type';

------------------------------------------------------------------------------
-- Risk by environment and agent over time
------------------------------------------------------------------------------
CREATE OR REPLACE VIEW risk_over_time WITH (security_invoker = true) AS
SELECT i.account_id, i.environment_id, e.name AS environment, i.agent_id, g.name AS agent,
	   b.bucket, date_trunc(b.bucket, i.started_at) AS bucket_start,
	   count(*) AS instances,
	   count(i.risk_level) AS scored,
	   count(*) FILTER (WHERE i.risk_level = 'low') AS low,
	   count(*) FILTER (WHERE i.risk_level = 'medium') AS medium,
	   count(*) FILTER (WHERE i.risk_level = 'high') AS high,
	   count(*) FILTER (WHERE i.risk_level = 'critical') AS critical,
	   max(i.risk_level) AS peak_level,
	   max(i.risk_score) AS peak_score,
	   round(avg(i.risk_score), 2) AS mean_score
  FROM prefactor.instances i
  JOIN prefactor.agents g ON g.account_id = i.account_id AND g.id = i.agent_id
  JOIN prefactor.environments e ON e.account_id = i.account_id AND e.id = i.environment_id
 CROSS JOIN (VALUES ('hour'), ('day')) AS b (bucket)
 WHERE i.started_at IS NOT NULL
 GROUP BY i.account_id, i.environment_id, e.name, i.agent_id, g.name, b.bucket, date_trunc(b.bucket, i.started_at);
COMMENT ON VIEW risk_over_time IS
	'Runs per environment, agent and hour or day of their start, counted by risk level, with the peak level and score';
COMMENT ON COLUMN risk_over_time.bucket IS 'Bucket size: hour or day';

-- The two bucket sizes as views of their own (a filter on bucket reaches inside the grouping).
CREATE OR REPLACE VIEW risk_by_hour WITH (security_invoker = true) AS
SELECT account_id, environment_id, environment, agent_id, agent, bucket_start, instances, scored,
	   low, medium, high, critical, peak_level, peak_score, mean_score
  FROM prefactor.risk_over_time WHERE bucket = 'hour';
COMMENT ON VIEW risk_by_hour IS
	'Runs per environment, agent and hour of their start, counted by risk level, with the peak level and score';

CREATE OR REPLACE VIEW risk_by_day WITH (security_invoker = true) AS
SELECT account_id, environment_id, environment, agent_id, agent, bucket_start, instances, scored,
	   low, medium, high, critical, peak_level, peak_score, mean_score
  FROM prefactor.risk_over_time WHERE bucket = 'day';
COMMENT ON VIEW risk_by_day IS
	'Runs per environment, agent and day of their start (in the session time zone), counted by risk level, with the peak level and score';

DO $$
DECLARE
	v text;
BEGIN
	FOREACH v IN ARRAY ARRAY['risk_over_time', 'risk_by_hour', 'risk_by_day'] LOOP
		EXECUTE format($c$
			COMMENT ON COLUMN prefactor.%1$I.account_id IS 'Account of the runs';
			COMMENT ON COLUMN prefactor.%1$I.environment_id IS 'Environment id';
			COMMENT ON COLUMN prefactor.%1$I.environment IS 'Environment name';
			COMMENT ON COLUMN prefactor.%1$I.agent_id IS 'Agent id';
			COMMENT ON COLUMN prefactor.%1$I.agent IS 'Agent name';
			COMMENT ON COLUMN prefactor.%1$I.bucket_start IS 'Start of the %2$s (session time zone) the runs started in';
			COMMENT ON COLUMN prefactor.%1$I.instances IS 'Runs started in the bucket';
			COMMENT ON COLUMN prefactor.%1$I.scored IS 'Runs with a risk level (agents with a risk profile)';
			COMMENT ON COLUMN prefactor.%1$I.low IS 'Runs at level low';
			COMMENT ON COLUMN prefactor.%1$I.medium IS 'Runs at level medium';
			COMMENT ON COLUMN prefactor.%1$I.high IS 'Runs at level high';
			COMMENT ON COLUMN prefactor.%1$I.critical IS 'Runs at level critical';
			COMMENT ON COLUMN prefactor.%1$I.peak_level IS 'Highest risk level of the bucket''s runs';
			COMMENT ON COLUMN prefactor.%1$I.peak_score IS 'Highest risk score of the bucket''s runs';
			COMMENT ON COLUMN prefactor.%1$I.mean_score IS 'Mean risk score of the scored runs, 2 places';
		$c$, v, CASE v WHEN 'risk_by_hour' THEN 'hour' WHEN 'risk_by_day' THEN 'day' ELSE 'hour or day' END);
	END LOOP;
END
$$;

------------------------------------------------------------------------------
-- Deployments: the full history (what is live now: live_deployments)
------------------------------------------------------------------------------
CREATE OR REPLACE VIEW deployment_history WITH (security_invoker = true) AS
SELECT d.account_id, d.id AS deployment_id, d.agent_id, g.name AS agent, d.environment_id, e.name AS environment,
	   d.version_id, v.external_identifier AS version, v.name AS version_name,
	   v.schema_version_id, sv.number AS schema_version,
	   d.deployed_at, d.retired_at, d.retired_at IS NULL AS live,
	   coalesce(d.retired_at, now()) - d.deployed_at AS live_for
  FROM prefactor.agent_deployments d
  LEFT JOIN prefactor.agents g ON g.account_id = d.account_id AND g.id = d.agent_id
  LEFT JOIN prefactor.environments e ON e.account_id = d.account_id AND e.id = d.environment_id
  LEFT JOIN prefactor.agent_versions v ON v.account_id = d.account_id AND v.id = d.version_id
  LEFT JOIN prefactor.activity_schema_versions sv ON sv.account_id = v.account_id AND sv.id = v.schema_version_id;
COMMENT ON VIEW deployment_history IS
	'Every deployment ever made, live or retired, with its version and schema version';
COMMENT ON COLUMN deployment_history.account_id IS 'Account of the deployment';
COMMENT ON COLUMN deployment_history.deployment_id IS 'Deployment id';
COMMENT ON COLUMN deployment_history.agent_id IS 'Agent id';
COMMENT ON COLUMN deployment_history.agent IS 'Agent name';
COMMENT ON COLUMN deployment_history.environment_id IS 'Environment id';
COMMENT ON COLUMN deployment_history.environment IS 'Environment name';
COMMENT ON COLUMN deployment_history.version_id IS 'Deployed agent version id';
COMMENT ON COLUMN deployment_history.version IS 'External identifier of the deployed version';
COMMENT ON COLUMN deployment_history.version_name IS 'Name of the deployed version';
COMMENT ON COLUMN deployment_history.schema_version_id IS 'Schema version paired with the deployed version';
COMMENT ON COLUMN deployment_history.schema_version IS 'Number of that schema version within the agent';
COMMENT ON COLUMN deployment_history.deployed_at IS 'When the version became live in the environment';
COMMENT ON COLUMN deployment_history.retired_at IS 'When the next deployment replaced it; null while live';
COMMENT ON COLUMN deployment_history.live IS 'True for the deployment that is live now';
COMMENT ON COLUMN deployment_history.live_for IS 'How long it was (or has been, so far) live';

------------------------------------------------------------------------------
-- Version history per agent
------------------------------------------------------------------------------
CREATE OR REPLACE VIEW version_history WITH (security_invoker = true) AS
SELECT v.account_id, v.agent_id, g.name AS agent, v.id AS version_id, v.external_identifier AS version,
	   v.name AS version_name, v.description, v.metadata,
	   v.schema_version_id, sv.number AS schema_version, sv.external_identifier AS schema_identifier,
	   v.created_at, r.runs, r.first_run_at, r.last_run_at,
	   coalesce(r.first_run_at, v.created_at) AS first_seen_at,
	   coalesce(r.last_run_at, v.created_at) AS last_seen_at
  FROM prefactor.agent_versions v
  JOIN prefactor.agents g ON g.account_id = v.account_id AND g.id = v.agent_id
  JOIN prefactor.activity_schema_versions sv ON sv.account_id = v.account_id AND sv.id = v.schema_version_id
 CROSS JOIN LATERAL (
	SELECT count(*) AS runs, min(coalesce(i.started_at, i.registered_at)) AS first_run_at,
		   max(coalesce(i.started_at, i.registered_at)) AS last_run_at
	  FROM prefactor.instances i
	 WHERE i.account_id = v.account_id AND i.agent_id = v.agent_id AND i.version_id = v.id
 ) r;
COMMENT ON VIEW version_history IS
	'Every version of every agent with the schema version paired with it, its runs and when it was first and last seen';
COMMENT ON COLUMN version_history.account_id IS 'Account of the agent';
COMMENT ON COLUMN version_history.agent_id IS 'Agent id';
COMMENT ON COLUMN version_history.agent IS 'Agent name';
COMMENT ON COLUMN version_history.version_id IS 'Agent version id';
COMMENT ON COLUMN version_history.version IS 'External identifier of the version (tag, commit, ...)';
COMMENT ON COLUMN version_history.version_name IS 'Name of the version (defaults to the external identifier)';
COMMENT ON COLUMN version_history.description IS 'Description sent with the version';
COMMENT ON COLUMN version_history.metadata IS 'The whole version document as first reported';
COMMENT ON COLUMN version_history.schema_version_id IS 'Schema version paired with this version';
COMMENT ON COLUMN version_history.schema_version IS 'Number of that schema version within the agent';
COMMENT ON COLUMN version_history.schema_identifier IS 'External identifier of that schema version, if sent';
COMMENT ON COLUMN version_history.created_at IS 'When the first run reporting it created this version';
COMMENT ON COLUMN version_history.runs IS 'Runs that reported this version';
COMMENT ON COLUMN version_history.first_run_at IS 'Start (or registration) of its first run; null if none';
COMMENT ON COLUMN version_history.last_run_at IS 'Start (or registration) of its latest run; null if none';
COMMENT ON COLUMN version_history.first_seen_at IS 'First seen: its first run, else its creation';
COMMENT ON COLUMN version_history.last_seen_at IS 'Last seen: its latest run, else its creation';
