------------------------------------------------------------------------------
-- Risk scoring (issue #5): profiles with revisions and templates, per span
-- type points, live scoring of runs on span insert, aggregates that score any
-- set of spans, the agreed-scope view, termination and alerts.
-- See doc/risk.md.
------------------------------------------------------------------------------

-- The vocabulary: data categories in their three groups, and actions.
CREATE VIEW risk_categories (name, category_group, position) AS
VALUES ('personal_identifiers', 'standard_pii', 1),
	   ('contact_information', 'standard_pii', 2),
	   ('location_and_tracking', 'standard_pii', 3),
	   ('behavioural_and_inferred', 'standard_pii', 4),
	   ('minors_data', 'standard_pii', 5),
	   ('financial_information', 'sensitive', 6),
	   ('health_and_medical', 'sensitive', 7),
	   ('criminal_justice', 'sensitive', 8),
	   ('authentication_and_secrets', 'sensitive', 9),
	   ('organisational_confidential', 'sensitive', 10),
	   ('gdpr_racial_or_ethnic_origin', 'gdpr_special', 11),
	   ('gdpr_political_opinions', 'gdpr_special', 12),
	   ('gdpr_religious_or_philosophical_beliefs', 'gdpr_special', 13),
	   ('gdpr_trade_union_membership', 'gdpr_special', 14),
	   ('gdpr_genetic_data', 'gdpr_special', 15),
	   ('gdpr_biometric_for_identification', 'gdpr_special', 16),
	   ('gdpr_sex_life_or_sexual_orientation', 'gdpr_special', 17);
COMMENT ON VIEW risk_categories IS
	'Data categories a risk profile weighs (0..10 each): Standard PII, Sensitive data, GDPR Article 9 special categories';

CREATE VIEW risk_actions (name, position) AS
VALUES ('create_data', 1), ('read_data', 2), ('update_data', 3), ('destroy_data', 4),
	   ('financial_transactions', 5), ('external_communication', 6);
COMMENT ON VIEW risk_actions IS
	'Actions a risk profile multiplies category weights by; an action the profile excludes is not allowed under it';

CREATE TYPE data_classification AS ENUM ('public', 'internal', 'confidential', 'restricted', 'secret');
COMMENT ON TYPE data_classification IS
	'Ordered data classifications a span type declares (unknown is not a level): max() gives the highest seen';

-- The highest classification seen in a scored run, kept beside its score.
ALTER TABLE instances ADD COLUMN max_classification data_classification;
COMMENT ON COLUMN instances.max_classification IS
	'Highest data classification declared by the span types of this run''s spans (runs with a risk profile only)';

------------------------------------------------------------------------------
-- What a span type declares, read from its data_risk
------------------------------------------------------------------------------
-- Categories marked included in the params or the result categories, each once.
CREATE FUNCTION risk_declared_categories(data_risk jsonb) RETURNS text[]
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
CREATE FUNCTION risk_declared_actions(data_risk jsonb) RETURNS text[]
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
CREATE FUNCTION risk_classification(data_risk jsonb) RETURNS data_classification
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN (SELECT max(c::data_classification)
			  FROM unnest(ARRAY[data_risk #>> '{params_data_categories,classification}',
								data_risk #>> '{result_data_categories,classification}']) c
			 WHERE c = ANY (enum_range(NULL::data_classification)::text[]));
COMMENT ON FUNCTION risk_classification(jsonb) IS
	'Highest classification (public .. secret) a span type''s data_risk declares for its params or result; null if none';

-- Points one span of a type adds under a profile revision's weights and multipliers.
CREATE FUNCTION risk_span_type_points(data_risk jsonb, category_weights jsonb, action_multipliers jsonb)
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
-- Levels
------------------------------------------------------------------------------
-- The band that holds a score.
-- The bands are defined once, in C (src/risk/risk_cache.c), for live scoring and SQL alike.
CREATE FUNCTION risk_band(score numeric, medium_threshold numeric, high_threshold numeric, critical_threshold numeric)
	RETURNS text
	AS 'MODULE_PATHNAME', 'prefactor_risk_band' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION risk_band(numeric, numeric, numeric, numeric) IS
	'The label of a score''s risk band under the thresholds (low, medium, high, critical); NULL for a NULL score';
CREATE FUNCTION risk_level(score numeric, medium_threshold numeric, high_threshold numeric, critical_threshold numeric)
	RETURNS risk_level
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN risk_band(score, medium_threshold, high_threshold, critical_threshold)::risk_level;
COMMENT ON FUNCTION risk_level(numeric, numeric, numeric, numeric) IS
	'Risk band of a score: low below medium, medium from medium, high from high, critical from critical';

CREATE FUNCTION risk_level(score numeric, revision risk_profile_revisions) RETURNS risk_level
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN risk_level(score, revision.medium_threshold, revision.high_threshold, revision.critical_threshold);
COMMENT ON FUNCTION risk_level(numeric, risk_profile_revisions) IS
	'Risk band of a score under a profile revision (a row of risk_profile_revisions)';

-- C over the revision cache, read by the revision's account: on Citus one
-- shard, also when called inside a query on a shard.
CREATE FUNCTION risk_revision_band(score numeric, revision pfid) RETURNS text
	AS 'MODULE_PATHNAME', 'prefactor_risk_revision_band' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION risk_revision_band(numeric, pfid) IS
	'The label of a score''s band under the profile revision with this id; null if either is null or the caller may not read the revision''s account';
CREATE FUNCTION prefactor_risk_level(score numeric, revision pfid) RETURNS risk_level
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN risk_revision_band(score, revision)::risk_level;
COMMENT ON FUNCTION prefactor_risk_level(numeric, pfid) IS
	'Risk band of a score under the profile revision with this id; null if the score or the revision is null';

------------------------------------------------------------------------------
-- Profiles: templates, validation, revisions
------------------------------------------------------------------------------
CREATE TABLE risk_profile_templates (
	name				text PRIMARY KEY CHECK (name <> '' AND length(name) <= 200),
	description			text NOT NULL,
	category_weights	jsonb NOT NULL,
	action_multipliers	jsonb NOT NULL,
	medium_threshold	numeric NOT NULL,
	high_threshold		numeric NOT NULL,
	critical_threshold	numeric NOT NULL,
	terminate_at_level	risk_level CHECK (terminate_at_level <> 'low'),
	builtin				boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE risk_profile_templates IS
	'Starting points for new risk profiles (general, strict_gdpr built in); weights and multipliers in the revision format';
SELECT pg_catalog.pg_extension_config_dump('risk_profile_templates', 'WHERE NOT builtin');

-- Weights or multipliers merged onto a base and checked: the complete, normalised form.
CREATE FUNCTION risk_merge_settings(kind text, base jsonb, changes jsonb) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	AS $$
DECLARE
	names		text[];
	factor		text := CASE kind WHEN 'category' THEN 'weight' ELSE 'multiplier' END;
	result		jsonb := '{}';
	entry		jsonb;
	change		record;
	n			text;
	amount		numeric;
	included	boolean;
BEGIN
	IF kind = 'category' THEN
		names := ARRAY(SELECT name FROM prefactor.risk_categories ORDER BY position);
	ELSE
		names := ARRAY(SELECT name FROM prefactor.risk_actions ORDER BY position);
	END IF;
	IF base IS NOT NULL AND jsonb_typeof(base) <> 'object' THEN
		RAISE EXCEPTION '% must be a JSON object', CASE kind WHEN 'category' THEN 'category_weights' ELSE 'action_multipliers' END
			USING ERRCODE = '22023', DETAIL = format('Got a JSON %s.', jsonb_typeof(base));
	END IF;
	IF changes IS NOT NULL AND jsonb_typeof(changes) <> 'object' THEN
		RAISE EXCEPTION '% must be a JSON object', CASE kind WHEN 'category' THEN 'category_weights' ELSE 'action_multipliers' END
			USING ERRCODE = '22023', DETAIL = format('Got a JSON %s.', jsonb_typeof(changes)),
				  HINT = format('Pass an object such as {"%s": {"%s": 1, "included": true}}.', names[1], factor);
	END IF;
	FOR change IN SELECT key FROM jsonb_each(coalesce(base, '{}') || coalesce(changes, '{}')) LOOP
		IF NOT change.key = ANY (names) THEN
			RAISE EXCEPTION 'unknown risk %: "%"', CASE kind WHEN 'category' THEN 'data category' ELSE 'action' END, prefactor.excerpt(change.key)
				USING ERRCODE = '22023',
					  DETAIL = format('Known %s names: %s.', CASE kind WHEN 'category' THEN 'data category' ELSE 'action' END,
									  array_to_string(names, ', ')),
					  HINT = 'Check the spelling; names are lower case with underscores.';
		END IF;
	END LOOP;
	FOREACH n IN ARRAY names LOOP
		entry := coalesce(base -> n, jsonb_build_object(factor, 0, 'included', false));
		IF jsonb_typeof(entry) = 'number' THEN
			entry := jsonb_build_object(factor, entry, 'included', true);
		END IF;
		IF changes ? n THEN
			CASE jsonb_typeof(changes -> n)
				WHEN 'number' THEN
					entry := entry || jsonb_build_object(factor, changes -> n);
				WHEN 'boolean' THEN
					entry := entry || jsonb_build_object('included', changes -> n);
				WHEN 'object' THEN
					entry := entry || (changes -> n);
				ELSE
					RAISE EXCEPTION 'invalid risk setting for "%"', n
						USING ERRCODE = '22023',
							  DETAIL = format('Got %s.', prefactor.excerpt((changes -> n)::text)),
							  HINT = format('Give a number (the %s), a boolean (included) or {"%s": ..., "included": ...}.', factor, factor);
			END CASE;
		END IF;
		IF jsonb_typeof(entry) <> 'object' OR EXISTS (SELECT FROM jsonb_object_keys(entry) k WHERE k NOT IN (factor, 'included'))
		   OR jsonb_typeof(entry -> factor) IS DISTINCT FROM 'number'
		   OR jsonb_typeof(entry -> 'included') IS DISTINCT FROM 'boolean' THEN
			RAISE EXCEPTION 'invalid risk setting for "%"', n
				USING ERRCODE = '22023',
					  DETAIL = format('Got %s.', prefactor.excerpt(entry::text)),
					  HINT = format('Each entry is {"%s": <number>, "included": <boolean>}.', factor);
		END IF;
		amount := (entry ->> factor)::numeric;
		included := (entry ->> 'included')::boolean;
		IF kind = 'category' AND (amount < 0 OR amount > 10) THEN
			RAISE EXCEPTION 'risk weight of "%" must be between 0 and 10', n
				USING ERRCODE = '22003', DETAIL = format('Got %s.', amount);
		ELSIF kind <> 'category' AND (amount < 0 OR amount > 100) THEN
			RAISE EXCEPTION 'risk multiplier of "%" must be between 0 and 100', n
				USING ERRCODE = '22003', DETAIL = format('Got %s.', amount),
					  HINT = 'Above 1 amplifies, 1 is neutral, below 1 reduces.';
		END IF;
		result := result || jsonb_build_object(n, jsonb_build_object(factor, amount, 'included', included));
	END LOOP;
	RETURN result;
END
$$;
COMMENT ON FUNCTION risk_merge_settings(text, jsonb, jsonb) IS
	'Category weights (kind category) or action multipliers (kind action) merged onto a base, validated and completed';

-- Thresholds strictly ascending with medium above zero.
CREATE FUNCTION risk_check_thresholds(medium numeric, high numeric, critical numeric) RETURNS void
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	AS $$
BEGIN
	IF medium IS NULL OR high IS NULL OR critical IS NULL THEN
		RAISE EXCEPTION 'risk thresholds must not be null'
			USING ERRCODE = '22004', DETAIL = format('Got medium %s, high %s, critical %s.', medium, high, critical);
	END IF;
	IF NOT (medium > 0) THEN
		RAISE EXCEPTION 'medium risk threshold must be greater than 0'
			USING ERRCODE = '22023', DETAIL = format('Got medium %s.', medium),
				  HINT = 'Scores below the medium threshold are low.';
	END IF;
	IF NOT (medium < high AND high < critical) THEN
		RAISE EXCEPTION 'risk thresholds must be strictly ascending: medium < high < critical'
			USING ERRCODE = '22023', DETAIL = format('Got medium %s, high %s, critical %s.', medium, high, critical);
	END IF;
END
$$;
COMMENT ON FUNCTION risk_check_thresholds(numeric, numeric, numeric) IS
	'Raises unless 0 < medium < high < critical';

-- BEFORE INSERT on revisions: complete and check weights and multipliers.
CREATE FUNCTION risk_revision_validate() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
BEGIN
	IF TG_OP = 'UPDATE' THEN
		RAISE EXCEPTION 'risk profile revisions never change'
			USING ERRCODE = '55000', DETAIL = format('Revision %s of profile %s.', OLD.revision, OLD.risk_profile_id),
				  HINT = 'Edit the profile with prefactor_update_risk_profile(), which adds a revision.';
	END IF;
	NEW.category_weights := risk_merge_settings('category', NEW.category_weights, NULL);
	NEW.action_multipliers := risk_merge_settings('action', NEW.action_multipliers, NULL);
	-- thresholds: the table's check constraint (the API functions report them first)
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION risk_revision_validate() IS
	'Trigger: completes and validates the weights and multipliers of a new risk profile revision; revisions are immutable';
CREATE TRIGGER risk_profile_revisions_30_validate BEFORE INSERT OR UPDATE ON risk_profile_revisions
	FOR EACH ROW EXECUTE FUNCTION risk_revision_validate();

INSERT INTO risk_profile_templates (name, description, category_weights, action_multipliers,
									medium_threshold, high_threshold, critical_threshold, terminate_at_level, builtin)
VALUES
('general', 'General baseline: every category and action included; identifiers, minors, secrets, health and '
			'GDPR special categories weigh most; destroying data and moving money double the weight; thresholds 20/50/100; '
			'no automatic termination',
 risk_merge_settings('category', '{"personal_identifiers": 6, "contact_information": 4, "location_and_tracking": 5,
	"behavioural_and_inferred": 3, "minors_data": 8, "financial_information": 6, "health_and_medical": 8,
	"criminal_justice": 8, "authentication_and_secrets": 9, "organisational_confidential": 4,
	"gdpr_racial_or_ethnic_origin": 8, "gdpr_political_opinions": 8, "gdpr_religious_or_philosophical_beliefs": 8,
	"gdpr_trade_union_membership": 8, "gdpr_genetic_data": 8, "gdpr_biometric_for_identification": 8,
	"gdpr_sex_life_or_sexual_orientation": 8}', NULL),
 risk_merge_settings('action', '{"create_data": 1.2, "read_data": 1.0, "update_data": 1.2, "destroy_data": 2.0,
	"financial_transactions": 2.0, "external_communication": 1.5}', NULL),
 20, 50, 100, NULL, true),
('strict_gdpr', 'Strict, GDPR-oriented: GDPR special categories, minors and health at the maximum weight 10, other '
				'personal data raised; destroying data triples and external communication and money movement amplify; '
				'low thresholds 10/30/60; runs reaching critical are terminated',
 risk_merge_settings('category', '{"personal_identifiers": 8, "contact_information": 6, "location_and_tracking": 7,
	"behavioural_and_inferred": 6, "minors_data": 10, "financial_information": 7, "health_and_medical": 10,
	"criminal_justice": 9, "authentication_and_secrets": 9, "organisational_confidential": 4,
	"gdpr_racial_or_ethnic_origin": 10, "gdpr_political_opinions": 10, "gdpr_religious_or_philosophical_beliefs": 10,
	"gdpr_trade_union_membership": 10, "gdpr_genetic_data": 10, "gdpr_biometric_for_identification": 10,
	"gdpr_sex_life_or_sexual_orientation": 10}', NULL),
 risk_merge_settings('action', '{"create_data": 1.5, "read_data": 1.0, "update_data": 1.5, "destroy_data": 3.0,
	"financial_transactions": 2.5, "external_communication": 2.0}', NULL),
 10, 30, 60, 'critical', true);

-- Level name as given to the API ('none' clears), checked.
CREATE FUNCTION risk_terminate_level(level text) RETURNS risk_level
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	AS $$
BEGIN
	IF level = 'none' THEN
		RETURN NULL;
	ELSIF level IN ('medium', 'high', 'critical') THEN
		RETURN level::prefactor.risk_level;
	END IF;
	RAISE EXCEPTION 'invalid terminate_at_level: "%"', prefactor.excerpt(level)
		USING ERRCODE = '22023', HINT = 'Use medium, high, critical, or none for no automatic termination.';
END
$$;
COMMENT ON FUNCTION risk_terminate_level(text) IS
	'The risk_level named by a terminate_at_level argument: medium, high, critical, or none (null)';

CREATE FUNCTION prefactor_create_risk_profile(account text, name text, template text DEFAULT 'general',
											  description text DEFAULT NULL,
											  category_weights jsonb DEFAULT NULL, action_multipliers jsonb DEFAULT NULL,
											  medium_threshold numeric DEFAULT NULL, high_threshold numeric DEFAULT NULL,
											  critical_threshold numeric DEFAULT NULL,
											  terminate_at_level text DEFAULT NULL)
	RETURNS pfid
	LANGUAGE plpgsql
	SET search_path = prefactor, pg_catalog
	AS $$
DECLARE
	acct		pfid := prefactor.resolve_account(account);
	t			risk_profile_templates;
	profile		pfid;
	stop_at		risk_level;
BEGIN
	SELECT * INTO t FROM risk_profile_templates WHERE risk_profile_templates.name = coalesce(template, 'general');
	IF NOT FOUND THEN
		RAISE EXCEPTION 'risk profile template "%" does not exist', prefactor.excerpt(template)
			USING ERRCODE = 'no_data_found',
				  DETAIL = format('Templates: %s.', (SELECT string_agg(x.name, ', ' ORDER BY x.name) FROM risk_profile_templates x));
	END IF;
	PERFORM prefactor.check_name('risk profile name', name);
	IF EXISTS (SELECT FROM risk_profiles p WHERE p.account_id = acct AND p.name = prefactor_create_risk_profile.name) THEN
		RAISE EXCEPTION 'risk profile "%" already exists in account "%"', prefactor.excerpt(name), prefactor.excerpt(account)
			USING ERRCODE = '42710',
				  HINT = 'Edit it with prefactor_update_risk_profile(); names stay taken by deleted profiles.';
	END IF;
	PERFORM risk_check_thresholds(coalesce(medium_threshold, t.medium_threshold),
								  coalesce(high_threshold, t.high_threshold),
								  coalesce(critical_threshold, t.critical_threshold));
	-- decided here, not in the INSERT: Citus evaluates a CASE's functions
	-- on the coordinator whichever branch applies
	stop_at := CASE WHEN terminate_at_level IS NULL THEN t.terminate_at_level
					ELSE risk_terminate_level(terminate_at_level) END;
	INSERT INTO risk_profiles AS p (account_id, name, description)
	VALUES (acct, prefactor_create_risk_profile.name, coalesce(prefactor_create_risk_profile.description, t.description))
	RETURNING p.id INTO profile;
	INSERT INTO risk_profile_revisions (account_id, risk_profile_id, revision, category_weights, action_multipliers,
										medium_threshold, high_threshold, critical_threshold, terminate_at_level)
	VALUES (acct, profile, 1,
			risk_merge_settings('category', t.category_weights, category_weights),
			risk_merge_settings('action', t.action_multipliers, action_multipliers),
			coalesce(medium_threshold, t.medium_threshold),
			coalesce(high_threshold, t.high_threshold),
			coalesce(critical_threshold, t.critical_threshold),
			stop_at);
	RETURN profile;
END
$$;
COMMENT ON FUNCTION prefactor_create_risk_profile(text, text, text, text, jsonb, jsonb, numeric, numeric, numeric, text) IS
	'New risk profile (revision 1) from a template (general, strict_gdpr, ...) with optional overrides; returns its id';

CREATE FUNCTION prefactor_update_risk_profile(account text, name text,
											  category_weights jsonb DEFAULT NULL, action_multipliers jsonb DEFAULT NULL,
											  medium_threshold numeric DEFAULT NULL, high_threshold numeric DEFAULT NULL,
											  critical_threshold numeric DEFAULT NULL,
											  terminate_at_level text DEFAULT NULL, description text DEFAULT NULL)
	RETURNS int
	LANGUAGE plpgsql
	SET search_path = prefactor, pg_catalog
	AS $$
DECLARE
	acct		pfid := prefactor.resolve_account(account);
	p			risk_profiles;
	cur			risk_profile_revisions;
	nxt			risk_profile_revisions;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'risk profile name must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO p FROM risk_profiles x WHERE x.account_id = acct AND x.name = prefactor_update_risk_profile.name FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'risk profile "%" does not exist in account "%"', prefactor.excerpt(name), prefactor.excerpt(account) USING ERRCODE = 'no_data_found';
	END IF;
	IF p.deleted_at IS NOT NULL THEN
		RAISE EXCEPTION 'risk profile "%" was deleted', name
			USING ERRCODE = '55000', DETAIL = format('Deleted at %s.', p.deleted_at),
				  HINT = 'Deleted profiles are kept for audit only; create a new profile.';
	END IF;
	IF description IS NOT NULL THEN
		UPDATE risk_profiles x SET description = prefactor_update_risk_profile.description
		 WHERE x.account_id = acct AND x.id = p.id;
	END IF;
	SELECT * INTO cur FROM risk_profile_revisions r
	 WHERE r.account_id = acct AND r.risk_profile_id = p.id ORDER BY r.revision DESC LIMIT 1;
	nxt := cur;
	nxt.category_weights := risk_merge_settings('category', cur.category_weights, category_weights);
	nxt.action_multipliers := risk_merge_settings('action', cur.action_multipliers, action_multipliers);
	nxt.medium_threshold := coalesce(medium_threshold, cur.medium_threshold);
	nxt.high_threshold := coalesce(high_threshold, cur.high_threshold);
	nxt.critical_threshold := coalesce(critical_threshold, cur.critical_threshold);
	IF terminate_at_level IS NOT NULL THEN
		nxt.terminate_at_level := risk_terminate_level(terminate_at_level);
	END IF;
	PERFORM risk_check_thresholds(nxt.medium_threshold, nxt.high_threshold, nxt.critical_threshold);
	IF (nxt.category_weights, nxt.action_multipliers, nxt.medium_threshold, nxt.high_threshold,
		nxt.critical_threshold, nxt.terminate_at_level) IS NOT DISTINCT FROM
	   (cur.category_weights, cur.action_multipliers, cur.medium_threshold, cur.high_threshold,
		cur.critical_threshold, cur.terminate_at_level) THEN
		RETURN cur.revision;	-- nothing changed: no new revision
	END IF;
	INSERT INTO risk_profile_revisions (account_id, risk_profile_id, revision, category_weights, action_multipliers,
										medium_threshold, high_threshold, critical_threshold, terminate_at_level)
	VALUES (acct, p.id, cur.revision + 1, nxt.category_weights, nxt.action_multipliers,
			nxt.medium_threshold, nxt.high_threshold, nxt.critical_threshold, nxt.terminate_at_level);
	RETURN cur.revision + 1;
END
$$;
COMMENT ON FUNCTION prefactor_update_risk_profile(text, text, jsonb, jsonb, numeric, numeric, numeric, text, text) IS
	'Edit a risk profile: changes merged onto the latest revision become a new revision (returned); unchanged returns the latest';

CREATE FUNCTION prefactor_delete_risk_profile(account text, name text) RETURNS boolean
	LANGUAGE plpgsql
	SET search_path = prefactor, pg_catalog
	AS $$
DECLARE
	acct	pfid := prefactor.resolve_account(account);
	p		risk_profiles;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'risk profile name must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO p FROM risk_profiles x WHERE x.account_id = acct AND x.name = prefactor_delete_risk_profile.name FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'risk profile "%" does not exist in account "%"', prefactor.excerpt(name), prefactor.excerpt(account) USING ERRCODE = 'no_data_found';
	END IF;
	IF p.deleted_at IS NOT NULL THEN
		RETURN false;
	END IF;
	UPDATE risk_profiles x SET deleted_at = now() WHERE x.account_id = acct AND x.id = p.id;
	RETURN true;
END
$$;
COMMENT ON FUNCTION prefactor_delete_risk_profile(text, text) IS
	'Soft-delete a risk profile: kept with its revisions for audit, agents keep the association, new runs are not scored; false if already deleted';

CREATE FUNCTION prefactor_assign_risk_profile(account text, agent text, risk_profile text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = prefactor, pg_catalog
	AS $$
DECLARE
	acct	pfid := prefactor.resolve_account(account);
	agent_id pfid := prefactor.resolve_agent(acct, agent);
	p		risk_profiles;
BEGIN
	IF risk_profile IS NOT NULL THEN
		SELECT * INTO p FROM risk_profiles x
		 WHERE x.account_id = acct AND (x.id = prefactor.try_pfid(risk_profile) OR x.name = risk_profile);
		IF NOT FOUND THEN
			RAISE EXCEPTION 'risk profile "%" does not exist in account "%"', prefactor.excerpt(risk_profile), prefactor.excerpt(account) USING ERRCODE = 'no_data_found';
		END IF;
		IF p.deleted_at IS NOT NULL THEN
			RAISE EXCEPTION 'risk profile "%" was deleted', risk_profile
				USING ERRCODE = '55000', HINT = 'Assign a profile that is not deleted.';
		END IF;
	END IF;
	UPDATE agents a SET risk_profile_id = p.id WHERE a.account_id = acct AND a.id = agent_id;
END
$$;
COMMENT ON FUNCTION prefactor_assign_risk_profile(text, text, text) IS
	'Assign a risk profile to an agent (null unassigns); runs registered afterwards are scored under its latest revision';

------------------------------------------------------------------------------
-- Scoring in C: per-(span type, revision) points cached per backend
------------------------------------------------------------------------------
CREATE FUNCTION risk_type_points(span_type_id pfid, revision pfid) RETURNS numeric
	AS 'MODULE_PATHNAME', 'prefactor_risk_type_points' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION risk_type_points(pfid, pfid) IS
	'Points one span of this span type adds under this profile revision (cached per backend; 0 if unknown)';

-- Aggregate support: one state (counts per span type and revision) of its own
-- type, not internal, so that Citus can push the aggregates down as partial
-- aggregates for groupings across accounts (src/risk/risk_agg_state.c).
CREATE TYPE risk_agg_state;
CREATE FUNCTION risk_agg_state_in(cstring) RETURNS risk_agg_state
	AS 'MODULE_PATHNAME', 'prefactor_risk_agg_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION risk_agg_state_out(risk_agg_state) RETURNS cstring
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
CREATE FUNCTION risk_agg_trans(risk_agg_state, pfid, pfid) RETURNS risk_agg_state
	AS 'MODULE_PATHNAME', 'prefactor_risk_agg_state_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION risk_agg_combine(risk_agg_state, risk_agg_state) RETURNS risk_agg_state
	AS 'MODULE_PATHNAME', 'prefactor_risk_agg_state_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION risk_agg_score(risk_agg_state) RETURNS numeric
	AS 'MODULE_PATHNAME', 'prefactor_risk_agg_state_score' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION risk_agg_breakdown(risk_agg_state) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_risk_agg_state_breakdown' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION risk_agg_trans(risk_agg_state, pfid, pfid) IS
	'risk_score and risk_breakdown transition: counts a span by (span type, revision); the two aggregates share it';
COMMENT ON FUNCTION risk_agg_combine(risk_agg_state, risk_agg_state) IS 'risk aggregates: merges two partial states';
COMMENT ON FUNCTION risk_agg_score(risk_agg_state) IS 'risk_score final: sum of count x type points';
COMMENT ON FUNCTION risk_agg_breakdown(risk_agg_state) IS 'risk_breakdown final: jsonb breakdown by span type';

CREATE AGGREGATE risk_score(span_type_id pfid, risk_profile_revision_id pfid) (
	SFUNC = risk_agg_trans,
	STYPE = risk_agg_state,
	SSPACE = 144,
	FINALFUNC = risk_agg_score,
	COMBINEFUNC = risk_agg_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE risk_score(pfid, pfid) IS
	'Risk score of a set of spans: sum of their types'' points under each span''s profile revision; null if no span has a revision';

CREATE AGGREGATE risk_breakdown(span_type_id pfid, risk_profile_revision_id pfid) (
	SFUNC = risk_agg_trans,
	STYPE = risk_agg_state,
	SSPACE = 144,
	FINALFUNC = risk_agg_breakdown,
	COMBINEFUNC = risk_agg_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE risk_breakdown(pfid, pfid) IS
	'Risk of a set of spans by span type as jsonb: {total, spans, types: [{span_type, count, share, points}]}; points sum to total; undeclared spans are one line with span_type null';

------------------------------------------------------------------------------
-- Live scoring on span insert
------------------------------------------------------------------------------
-- Each span carries the revision its run is scored under, so the aggregates
-- score any set of spans without a join. A copy of instances.risk_profile_revision_id
-- (which has the foreign key); set by the span trigger from the run row it locks,
-- whatever was given. The columns are placed by 01-spans-layout.sql.
COMMENT ON COLUMN spans.risk_profile_revision_id IS
	'The risk profile revision the span''s run is scored under (copied from the run on insert); NULL when the run has none';

-- Live scoring (the span guard, src/risk/risk_live.c) keeps the run's running
-- total on its spans: a span costs its own row and index entries, and the run
-- row is written only when a span raises the run's level or classification,
-- and when the run finishes.
COMMENT ON COLUMN spans.risk_total IS
	'The run''s risk score after this span (live scoring, computed on insert); NULL for a span that adds no points and no classification, or of an unscored run';
COMMENT ON COLUMN spans.raised_run_risk IS
	'Whether this span raised its run''s risk level or data classification (the run row was updated with it); NULL when risk_total is';
-- The previous total of a run is the largest on its spans (totals only grow).
CREATE INDEX spans_run_risk_total ON spans (account_id, instance_id, risk_total) WHERE risk_total IS NOT NULL;
COMMENT ON INDEX spans_run_risk_total IS
	'Serves live scoring: the running total of a run before its next span, and the total at its finish';

-- The exact risk score of a run at this moment: its last span's running
-- total while it is active (instances.risk_score is written only when the
-- level or classification rises, and at the finish), its stored score after.
CREATE FUNCTION run_risk_score(instance instances) RETURNS numeric
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN CASE WHEN instance.risk_profile_revision_id IS NOT NULL
				THEN greatest(instance.risk_score,
							  (SELECT max(s.risk_total) FROM prefactor.spans s
								WHERE s.account_id = instance.account_id AND s.instance_id = instance.id
								  AND s.risk_total IS NOT NULL)) END;
COMMENT ON FUNCTION run_risk_score(instances) IS
	'The exact live risk score of a run (instances.risk_score is rolled up only when the level or classification rises and at the finish); NULL for an unscored run';
COMMENT ON COLUMN instances.risk_score IS
	'Risk score under the run''s profile revision: final once the run ends; while it is active, as of its last level or classification rise (the exact live score: run_risk_score(run), instance_summary.risk_score); NULL for an unscored run';

-- Spans and their risk: the revision and the points each adds.
CREATE VIEW span_risk AS
SELECT s.account_id, s.instance_id, s.id AS span_id, s.span_type, s.span_type_id, s.status, s.started_at,
	   s.risk_profile_revision_id,
	   CASE WHEN s.risk_profile_revision_id IS NOT NULL
			THEN coalesce(risk_type_points(s.span_type_id, s.risk_profile_revision_id), 0) END AS points
  FROM spans s;
COMMENT ON VIEW span_risk IS
	'Every span with the profile revision it is scored under and the points it adds (null without a revision)';

------------------------------------------------------------------------------
-- Agreed scope
------------------------------------------------------------------------------
CREATE VIEW risk_scope_violations AS
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

COMMENT ON COLUMN risk_categories.name IS 'Data category name as used in data_risk and in category_weights';
COMMENT ON COLUMN risk_categories.category_group IS 'standard_pii, sensitive or gdpr_special';
COMMENT ON COLUMN risk_categories.position IS 'Display order';
COMMENT ON COLUMN risk_actions.name IS 'Action name as used in action_profile and in action_multipliers';
COMMENT ON COLUMN risk_actions.position IS 'Display order';
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
COMMENT ON COLUMN span_risk.account_id IS 'The account';
COMMENT ON COLUMN span_risk.instance_id IS 'The run';
COMMENT ON COLUMN span_risk.span_id IS 'The span';
COMMENT ON COLUMN span_risk.span_type IS 'Span type name as sent';
COMMENT ON COLUMN span_risk.span_type_id IS 'The declared span type (null if undeclared)';
COMMENT ON COLUMN span_risk.status IS 'The span''s status';
COMMENT ON COLUMN span_risk.started_at IS 'When the span started';
COMMENT ON COLUMN span_risk.risk_profile_revision_id IS 'The revision the run is scored under (null: no risk)';
COMMENT ON COLUMN span_risk.points IS 'Points the span adds to its run''s score (null without a revision)';
