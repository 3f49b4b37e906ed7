------------------------------------------------------------------------------
-- Risk scoring (issue #5): per span type points under a profile revision,
-- live scoring of runs as their spans arrive (in the span guard, C), the
-- aggregates that score any set of spans, and the agreed-scope view.
-- Profiles, templates and levels: 13-risk-profiles.sql. See doc/risk.md.
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- What a span type declares, read from its data_risk
------------------------------------------------------------------------------
-- Categories marked included in the params or the result categories, each once.
CREATE OR REPLACE FUNCTION risk_declared_categories(data_risk jsonb) RETURNS text[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN ARRAY(
		SELECT DISTINCT c.key
		  FROM unnest(ARRAY[data_risk -> 'params_data_categories', data_risk -> 'result_data_categories']) part(o),
			   LATERAL jsonb_each(CASE WHEN jsonb_typeof(part.o) = 'object' THEN part.o ELSE '{}' END) c
		 WHERE c.key <> 'classification' AND c.value = '"included"'
		 ORDER BY 1);
COMMENT ON FUNCTION risk_declared_categories(jsonb) IS
	'Data categories a span type''s data_risk marks included in its params or result categories (each once, sorted)';

-- Actions marked allowed in the action profile.
CREATE OR REPLACE FUNCTION risk_declared_actions(data_risk jsonb) RETURNS text[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN ARRAY(
		SELECT a.key
		  FROM jsonb_each(CASE WHEN jsonb_typeof(data_risk -> 'action_profile') = 'object'
							   THEN data_risk -> 'action_profile' ELSE '{}' END) a
		 WHERE a.value = '"allowed"'
		 ORDER BY 1);
COMMENT ON FUNCTION risk_declared_actions(jsonb) IS
	'Actions a span type''s data_risk marks allowed in its action profile (sorted)';

-- The higher of the params and result classifications; unknown does not count.
CREATE OR REPLACE FUNCTION risk_classification(data_risk jsonb) RETURNS data_classification
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN (SELECT max(c::data_classification)
			  FROM unnest(ARRAY[data_risk #>> '{params_data_categories,classification}',
								data_risk #>> '{result_data_categories,classification}']) c
			 WHERE c = ANY (enum_range(NULL::data_classification)::text[]));
COMMENT ON FUNCTION risk_classification(jsonb) IS
	'Highest classification (public .. secret) a span type''s data_risk declares for its params or result; null if none';

-- Points one span of a type adds under a profile revision's weights and multipliers.
CREATE OR REPLACE FUNCTION risk_span_type_points(data_risk jsonb, category_weights jsonb, action_multipliers jsonb)
	RETURNS numeric
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN (SELECT coalesce(trim_scale(sum((w.value ->> 'weight')::numeric * (m.value ->> 'multiplier')::numeric)), 0)
			  FROM unnest(risk_declared_categories(data_risk)) c
			  JOIN jsonb_each(category_weights) w ON w.key = c AND (w.value ->> 'included')::boolean
			 CROSS JOIN unnest(risk_declared_actions(data_risk)) a
			  JOIN jsonb_each(action_multipliers) m ON m.key = a AND (m.value ->> 'included')::boolean);
COMMENT ON FUNCTION risk_span_type_points(jsonb, jsonb, jsonb) IS
	'Score of one span of a type: sum over declared categories and declared actions the profile includes of weight x multiplier';

------------------------------------------------------------------------------
-- Scoring in C: per-(span type, revision) points cached per backend
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION risk_type_points(span_type_id pfid, revision pfid) RETURNS numeric
	AS 'MODULE_PATHNAME', 'prefactor_risk_type_points' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION risk_type_points(pfid, pfid) IS
	'Points one span of this span type adds under this profile revision (cached per backend; 0 if unknown)';

-- Aggregate support: one state (counts per span type and revision) of its own
-- type, not internal, so that Citus can push the aggregates down as partial
-- aggregates for groupings across accounts (src/risk/risk_agg_state.c).
CREATE TYPE risk_agg_state;
CREATE OR REPLACE FUNCTION risk_agg_state_in(cstring) RETURNS risk_agg_state
	AS 'MODULE_PATHNAME', 'prefactor_risk_agg_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION risk_agg_state_out(risk_agg_state) RETURNS cstring
	AS 'MODULE_PATHNAME', 'prefactor_risk_agg_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE risk_agg_state (
	INPUT = risk_agg_state_in,
	OUTPUT = risk_agg_state_out,
	INTERNALLENGTH = VARIABLE,
	STORAGE = extended
);
COMMENT ON TYPE risk_agg_state IS
	'Partial state of risk_score and risk_breakdown: counts per (span type, revision); text form is hex, as Citus ships it between nodes';
COMMENT ON FUNCTION risk_agg_state_in(cstring) IS 'Text input of risk_agg_state (hex of its serialized form, checked)';
COMMENT ON FUNCTION risk_agg_state_out(risk_agg_state) IS 'Text output of risk_agg_state (hex of its serialized form)';
CREATE OR REPLACE FUNCTION risk_agg_trans(risk_agg_state, pfid, pfid) RETURNS risk_agg_state
	AS 'MODULE_PATHNAME', 'prefactor_risk_agg_state_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION risk_agg_combine(risk_agg_state, risk_agg_state) RETURNS risk_agg_state
	AS 'MODULE_PATHNAME', 'prefactor_risk_agg_state_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION risk_agg_score(risk_agg_state) RETURNS numeric
	AS 'MODULE_PATHNAME', 'prefactor_risk_agg_state_score' LANGUAGE C STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION risk_agg_breakdown(risk_agg_state) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_risk_agg_state_breakdown' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION risk_agg_trans(risk_agg_state, pfid, pfid) IS
	'risk_score and risk_breakdown transition: counts a span by (span type, revision); the two aggregates share it';
COMMENT ON FUNCTION risk_agg_combine(risk_agg_state, risk_agg_state) IS 'risk aggregates: merges two partial states';
COMMENT ON FUNCTION risk_agg_score(risk_agg_state) IS 'risk_score final: sum of count x type points';
COMMENT ON FUNCTION risk_agg_breakdown(risk_agg_state) IS 'risk_breakdown final: jsonb breakdown by span type';

CREATE OR REPLACE AGGREGATE risk_score(span_type_id pfid, risk_profile_revision_id pfid) (
	SFUNC = risk_agg_trans,
	STYPE = risk_agg_state,
	SSPACE = 192,
	FINALFUNC = risk_agg_score,
	COMBINEFUNC = risk_agg_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE risk_score(pfid, pfid) IS
	'Risk score of a set of spans: sum of their types'' points under each span''s profile revision; null if no span has a revision';

CREATE OR REPLACE AGGREGATE risk_breakdown(span_type_id pfid, risk_profile_revision_id pfid) (
	SFUNC = risk_agg_trans,
	STYPE = risk_agg_state,
	SSPACE = 192,
	FINALFUNC = risk_agg_breakdown,
	COMBINEFUNC = risk_agg_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE risk_breakdown(pfid, pfid) IS
	'Risk of a set of spans by span type as jsonb: {total, spans, types: [{span_type, count, share, points}]}; points sum to total; undeclared spans are one line with span_type null';

------------------------------------------------------------------------------
-- Live scores and the risk of spans
------------------------------------------------------------------------------
-- The exact risk score of a run at this moment: its last span's running
-- total while it is active (instances.risk_score is written only when the
-- level or classification rises, and at the finish), its stored score after.
CREATE OR REPLACE FUNCTION run_risk_score(instance instances) RETURNS numeric
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN CASE WHEN instance.risk_profile_revision_id IS NOT NULL
				THEN greatest(instance.risk_score,
							  (SELECT max(s.risk_total) FROM prefactor.spans s
								WHERE s.account_id = instance.account_id AND s.instance_id = instance.id
								  AND s.risk_total IS NOT NULL)) END;
COMMENT ON FUNCTION run_risk_score(instances) IS
	'The exact live risk score of a run (instances.risk_score is rolled up only when the level or classification rises and at the finish); NULL for an unscored run';

-- Spans and their risk: the revision and the points each adds.
CREATE OR REPLACE VIEW span_risk AS
SELECT s.account_id, s.instance_id, s.id AS span_id, s.span_type, s.span_type_id, s.status, s.started_at,
	   s.risk_profile_revision_id,
	   CASE WHEN s.risk_profile_revision_id IS NOT NULL
			THEN coalesce(risk_type_points(s.span_type_id, s.risk_profile_revision_id), 0) END AS points
  FROM spans s;
COMMENT ON VIEW span_risk IS
	'Every span with the profile revision it is scored under and the points it adds (null without a revision)';
COMMENT ON COLUMN span_risk.account_id IS 'The account';
COMMENT ON COLUMN span_risk.instance_id IS 'The run';
COMMENT ON COLUMN span_risk.span_id IS 'The span';
COMMENT ON COLUMN span_risk.span_type IS 'Span type name as sent';
COMMENT ON COLUMN span_risk.span_type_id IS 'The declared span type (null if undeclared)';
COMMENT ON COLUMN span_risk.status IS 'The span''s status';
COMMENT ON COLUMN span_risk.started_at IS 'When the span started';
COMMENT ON COLUMN span_risk.risk_profile_revision_id IS 'The revision the run is scored under (null: no risk)';
COMMENT ON COLUMN span_risk.points IS 'Points the span adds to its run''s score (null without a revision)';

------------------------------------------------------------------------------
-- Agreed scope
------------------------------------------------------------------------------
CREATE OR REPLACE VIEW risk_scope_violations AS
SELECT ag.account_id, ag.id AS agent_id, ag.name AS agent,
	   sv.id AS schema_version_id, sv.number AS schema_version,
	   st.id AS span_type_id, st.name AS span_type,
	   p.id AS risk_profile_id, p.name AS risk_profile, r.revision AS risk_profile_revision,
	   cats.outside AS categories_outside, acts.outside AS actions_outside
  FROM agents ag
  JOIN risk_profiles p ON p.account_id = ag.account_id AND p.id = ag.risk_profile_id AND p.deleted_at IS NULL
 CROSS JOIN LATERAL (SELECT * FROM risk_profile_revisions x
					  WHERE x.account_id = p.account_id AND x.risk_profile_id = p.id
					  ORDER BY x.revision DESC LIMIT 1) r
  JOIN activity_schema_versions sv ON sv.account_id = ag.account_id AND sv.agent_id = ag.id
  JOIN span_types st ON st.account_id = sv.account_id AND st.schema_version_id = sv.id
 CROSS JOIN LATERAL (SELECT array_agg(c ORDER BY c) FROM unnest(risk_declared_categories(st.data_risk)) c
					  WHERE (r.category_weights -> c ->> 'included') IS DISTINCT FROM 'true') cats(outside)
 CROSS JOIN LATERAL (SELECT array_agg(a ORDER BY a) FROM unnest(risk_declared_actions(st.data_risk)) a
					  WHERE (r.action_multipliers -> a ->> 'included') IS DISTINCT FROM 'true') acts(outside)
 WHERE cats.outside IS NOT NULL OR acts.outside IS NOT NULL;
COMMENT ON VIEW risk_scope_violations IS
	'Per agent and schema version, span types declaring categories or actions outside what the agent''s risk profile (latest revision) includes';
COMMENT ON COLUMN risk_scope_violations.account_id IS 'The account';
COMMENT ON COLUMN risk_scope_violations.agent_id IS 'The agent';
COMMENT ON COLUMN risk_scope_violations.agent IS 'The agent''s name';
COMMENT ON COLUMN risk_scope_violations.schema_version_id IS 'The activity schema version declaring the span type';
COMMENT ON COLUMN risk_scope_violations.schema_version IS 'Its number for the agent';
COMMENT ON COLUMN risk_scope_violations.span_type_id IS 'The span type';
COMMENT ON COLUMN risk_scope_violations.span_type IS 'The span type''s name';
COMMENT ON COLUMN risk_scope_violations.risk_profile_id IS 'The agent''s risk profile';
COMMENT ON COLUMN risk_scope_violations.risk_profile IS 'Its name';
COMMENT ON COLUMN risk_scope_violations.risk_profile_revision IS 'The revision compared against (the latest)';
COMMENT ON COLUMN risk_scope_violations.categories_outside IS 'Declared data categories the profile does not include (null if none)';
COMMENT ON COLUMN risk_scope_violations.actions_outside IS 'Declared actions the profile does not include, i.e. does not allow (null if none)';
