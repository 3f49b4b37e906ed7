------------------------------------------------------------------------------
-- Risk profiles (issue #5): the vocabulary, templates, profiles with their
-- revisions, and the levels a score falls in. Scoring runs and spans under
-- them: 30-risk-scoring.sql. See doc/risk.md.
------------------------------------------------------------------------------

CREATE TYPE risk_level AS ENUM ('low', 'medium', 'high', 'critical');
COMMENT ON TYPE risk_level IS 'Ordered risk bands: low < medium < high < critical, so max() gives the peak';

CREATE TYPE data_classification AS ENUM ('public', 'internal', 'confidential', 'restricted', 'secret');
COMMENT ON TYPE data_classification IS
	'Ordered data classifications a span type declares (unknown is not a level): max() gives the highest seen';

-- The vocabulary: data categories in their three groups, and actions.
CREATE OR REPLACE VIEW risk_categories (name, category_group, position) AS
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
COMMENT ON COLUMN risk_categories.name IS 'Data category name as used in data_risk and in category_weights';
COMMENT ON COLUMN risk_categories.category_group IS 'standard_pii, sensitive or gdpr_special';
COMMENT ON COLUMN risk_categories.position IS 'Display order';

CREATE OR REPLACE VIEW risk_actions (name, position) AS
VALUES ('create_data', 1), ('read_data', 2), ('update_data', 3), ('destroy_data', 4),
	   ('financial_transactions', 5), ('external_communication', 6);
COMMENT ON VIEW risk_actions IS
	'Actions a risk profile multiplies category weights by; an action the profile excludes is not allowed under it';
COMMENT ON COLUMN risk_actions.name IS 'Action name as used in action_profile and in action_multipliers';
COMMENT ON COLUMN risk_actions.position IS 'Display order';

------------------------------------------------------------------------------
-- Levels
------------------------------------------------------------------------------
-- The band that holds a score.
-- The bands are defined once, in C (src/risk/risk_cache.c), for live scoring and SQL alike.
CREATE OR REPLACE FUNCTION risk_band(score numeric, medium_threshold numeric, high_threshold numeric, critical_threshold numeric)
	RETURNS text
	AS 'MODULE_PATHNAME', 'prefactor_risk_band' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION risk_band(numeric, numeric, numeric, numeric) IS
	'The label of a score''s risk band under the thresholds (low, medium, high, critical); NULL for a NULL score';
CREATE OR REPLACE FUNCTION risk_level(score numeric, medium_threshold numeric, high_threshold numeric, critical_threshold numeric)
	RETURNS risk_level
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN risk_band(score, medium_threshold, high_threshold, critical_threshold)::risk_level;
COMMENT ON FUNCTION risk_level(numeric, numeric, numeric, numeric) IS
	'Risk band of a score: low below medium, medium from medium, high from high, critical from critical';

-- C over the revision cache, read by the revision's account: on Citus one
-- shard, also when called inside a query on a shard.
CREATE OR REPLACE FUNCTION risk_revision_band(score numeric, revision pfid) RETURNS text
	AS 'MODULE_PATHNAME', 'prefactor_risk_revision_band' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION risk_revision_band(numeric, pfid) IS
	'The label of a score''s band under the profile revision with this id; null if either is null or the caller may not read the revision''s account';
CREATE OR REPLACE FUNCTION prefactor_risk_level(score numeric, revision pfid) RETURNS risk_level
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN risk_revision_band(score, revision)::risk_level;
COMMENT ON FUNCTION prefactor_risk_level(numeric, pfid) IS
	'Risk band of a score under the profile revision with this id; null if the score or the revision is null';

------------------------------------------------------------------------------
-- Templates, and the checks every revision passes
------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS risk_profile_templates (
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
COMMENT ON COLUMN risk_profile_templates.name IS 'The template''s name (general, strict_gdpr, ...)';
COMMENT ON COLUMN risk_profile_templates.description IS 'What the template is for';
COMMENT ON COLUMN risk_profile_templates.category_weights IS 'Default weights of the data categories';
COMMENT ON COLUMN risk_profile_templates.action_multipliers IS 'Default multipliers of the actions';
COMMENT ON COLUMN risk_profile_templates.medium_threshold IS 'Default medium threshold';
COMMENT ON COLUMN risk_profile_templates.high_threshold IS 'Default high threshold';
COMMENT ON COLUMN risk_profile_templates.critical_threshold IS 'Default critical threshold';
COMMENT ON COLUMN risk_profile_templates.terminate_at_level IS 'Default termination level; NULL: never';
COMMENT ON COLUMN risk_profile_templates.builtin IS 'Whether the extension ships it';
SELECT pg_catalog.pg_extension_config_dump('risk_profile_templates', 'WHERE NOT builtin');
-- shared reference data (no account_id): every reader reads it, only superusers change it
SELECT prefactor.secure_table('risk_profile_templates', '{}', '{}');

-- Weights or multipliers merged onto a base and checked: the complete, normalised form.
CREATE OR REPLACE FUNCTION risk_merge_settings(kind text, base jsonb, changes jsonb) RETURNS jsonb
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
CREATE OR REPLACE FUNCTION risk_check_thresholds(medium numeric, high numeric, critical numeric) RETURNS void
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
CREATE OR REPLACE FUNCTION risk_revision_validate() RETURNS trigger
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
------------------------------------------------------------------------------
-- Profiles and their revisions
------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS risk_profiles (
	account_id	pfid NOT NULL REFERENCES accounts,
	id			pfid NOT NULL,
	name		text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	description	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	deleted_at	timestamptz,
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, name),
	CONSTRAINT risk_profiles_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id)),
	CONSTRAINT risk_profiles_name_not_blank CHECK (btrim(name) <> '')
);
COMMENT ON TABLE risk_profiles IS 'Risk profiles of an account; deleted ones are kept for audit';
COMMENT ON COLUMN risk_profiles.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN risk_profiles.id IS 'Id: a pfid in its account''s partition';
COMMENT ON COLUMN risk_profiles.name IS 'Unique name of the profile in its account (kept by deleted profiles)';
COMMENT ON COLUMN risk_profiles.description IS 'Free text describing it';
COMMENT ON COLUMN risk_profiles.created_at IS 'When the row was created';
COMMENT ON COLUMN risk_profiles.deleted_at IS 'When it was deleted (kept for audit); NULL while in use';
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON risk_profiles FOR EACH ROW EXECUTE FUNCTION assign_id();
SELECT pg_catalog.pg_extension_config_dump('risk_profiles', '');
SELECT prefactor.secure_table('risk_profiles', '{}', '{INSERT,UPDATE,DELETE}');

CREATE TABLE IF NOT EXISTS risk_profile_revisions (
	account_id			pfid NOT NULL,
	id					pfid NOT NULL,
	risk_profile_id		pfid NOT NULL,
	revision			int NOT NULL CHECK (revision > 0),
	category_weights	jsonb NOT NULL DEFAULT '{}',
	action_multipliers	jsonb NOT NULL DEFAULT '{}',
	medium_threshold	numeric NOT NULL,
	high_threshold		numeric NOT NULL,
	critical_threshold	numeric NOT NULL,
	terminate_at_level	risk_level CHECK (terminate_at_level <> 'low'),
	created_at			timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, risk_profile_id, revision),
	FOREIGN KEY (account_id, risk_profile_id) REFERENCES risk_profiles,
	CONSTRAINT risk_profile_revisions_thresholds CHECK (medium_threshold > 0 AND medium_threshold < high_threshold
		   AND high_threshold < critical_threshold),
	CONSTRAINT risk_profile_revisions_shapes CHECK (jsonb_typeof(category_weights) = 'object'
		   AND jsonb_typeof(action_multipliers) = 'object'),
	CONSTRAINT risk_profile_revisions_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE risk_profile_revisions IS
	'Every edit of a risk profile is a new revision; instances record the revision they were scored under';
COMMENT ON COLUMN risk_profile_revisions.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN risk_profile_revisions.id IS 'Id: a pfid in its account''s partition';
COMMENT ON COLUMN risk_profile_revisions.risk_profile_id IS 'The profile';
COMMENT ON COLUMN risk_profile_revisions.revision IS 'Its number among the profile''s revisions: 1, 2, ...';
COMMENT ON COLUMN risk_profile_revisions.category_weights IS 'Weight (0 to 10) and inclusion of every data category';
COMMENT ON COLUMN risk_profile_revisions.action_multipliers IS 'Multiplier (0 to 100) and inclusion of every action';
COMMENT ON COLUMN risk_profile_revisions.medium_threshold IS 'Score from which a run is medium';
COMMENT ON COLUMN risk_profile_revisions.high_threshold IS 'Score from which a run is high';
COMMENT ON COLUMN risk_profile_revisions.critical_threshold IS 'Score from which a run is critical';
COMMENT ON COLUMN risk_profile_revisions.terminate_at_level IS 'The level at which runs are terminated; NULL: never';
COMMENT ON COLUMN risk_profile_revisions.created_at IS 'When the row was created';
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON risk_profile_revisions FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE OR REPLACE TRIGGER risk_profile_revisions_30_validate BEFORE INSERT OR UPDATE ON risk_profile_revisions
	FOR EACH ROW EXECUTE FUNCTION risk_revision_validate();
SELECT pg_catalog.pg_extension_config_dump('risk_profile_revisions', '');
SELECT prefactor.secure_table('risk_profile_revisions', '{}', '{INSERT,UPDATE,DELETE}');

CREATE OR REPLACE FUNCTION risk_level(score numeric, revision risk_profile_revisions) RETURNS risk_level
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN risk_level(score, revision.medium_threshold, revision.high_threshold, revision.critical_threshold);
COMMENT ON FUNCTION risk_level(numeric, risk_profile_revisions) IS
	'Risk band of a score under a profile revision (a row of risk_profile_revisions)';

-- The built-in templates as this version ships them: an upgrade brings them
-- up to date (templates an installation adds are its own).
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
 10, 30, 60, 'critical', true)
ON CONFLICT (name) DO UPDATE
	SET description = excluded.description, category_weights = excluded.category_weights,
		action_multipliers = excluded.action_multipliers, medium_threshold = excluded.medium_threshold,
		high_threshold = excluded.high_threshold, critical_threshold = excluded.critical_threshold,
		terminate_at_level = excluded.terminate_at_level, builtin = excluded.builtin;

-- Level name as given to the API ('none' clears), checked.
CREATE OR REPLACE FUNCTION risk_terminate_level(level text) RETURNS risk_level
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

CREATE OR REPLACE FUNCTION prefactor_create_risk_profile(account text, name text, template text DEFAULT 'general',
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

CREATE OR REPLACE FUNCTION prefactor_update_risk_profile(account text, name text,
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

CREATE OR REPLACE FUNCTION prefactor_delete_risk_profile(account text, name text) RETURNS boolean
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

