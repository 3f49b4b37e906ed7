------------------------------------------------------------------------------
-- Run lifecycle: accounts, environments, agents, automatic versions and
-- schema versions, runs, spans, deployments, idempotent retries and the
-- audit-trail guards. Plain INSERT/COPY into spans goes through the same
-- triggers as the functions, so both paths apply the same checks.
------------------------------------------------------------------------------

-- The row rules of spans and runs move from CHECK constraints into the guard
-- triggers (spans_10_guard*, src/guard/span_guard.c; instances_10_guard*,
-- src/guard/run_guard.c), which every INSERT, COPY and UPDATE passes and
-- which raise check_violation under the same constraint names. PostgreSQL
-- compiles CHECK expressions once per statement, and every span call is a
-- statement of its own (as is the run update of live risk scoring): the
-- seven checks of a span cost more than the rest of its own columns.
ALTER TABLE instances
	DROP CONSTRAINT instances_purpose_check,
	DROP CONSTRAINT instances_status_check,
	DROP CONSTRAINT instances_times_ordered,
	DROP CONSTRAINT instances_finished_when_done,
	DROP CONSTRAINT instances_started_unless_pending,
	DROP CONSTRAINT instances_id_partition;
-- (spans is rebuilt without them: 01-spans-layout.sql)

-- Names are not blank (0.1.0 refused only the empty string); plain INSERTs
-- obey what prefactor.check_name() tells API callers. NOT VALID: an upgraded
-- database keeps a blank name it already has, new rows are checked.
ALTER TABLE accounts ADD CONSTRAINT accounts_name_not_blank CHECK (btrim(name) <> '') NOT VALID;
ALTER TABLE environments ADD CONSTRAINT environments_name_not_blank CHECK (btrim(name) <> '') NOT VALID;
ALTER TABLE agents ADD CONSTRAINT agents_name_not_blank CHECK (btrim(name) <> '') NOT VALID;
ALTER TABLE risk_profiles ADD CONSTRAINT risk_profiles_name_not_blank CHECK (btrim(name) <> '') NOT VALID;

-- The span type a span's run declares under its name (NULL: undeclared;
-- the column and its foreign key: 01-spans-layout.sql).
COMMENT ON COLUMN spans.span_type_id IS
	'The span type declared under span_type by the run''s schema version; NULL when undeclared';

-- One row per idempotency key an account used: the call it answered and its answer.
CREATE TABLE idempotency_keys (
	account_id		pfid NOT NULL REFERENCES accounts,
	key				text NOT NULL,
	operation		text NOT NULL,
	request			jsonb NOT NULL,
	response		jsonb,
	created_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, key),
	CONSTRAINT idempotency_keys_key_length CHECK (key <> '' AND length(key) <= 64)
);
COMMENT ON TABLE idempotency_keys IS
	'Idempotency keys per account: a retry with the same key and arguments gets the first answer';
SELECT pg_catalog.pg_extension_config_dump('idempotency_keys', '');

CREATE TYPE span_ack AS (span_id pfid, terminate boolean, reason text);
COMMENT ON TYPE span_ack IS
	'Answer of the span functions: the span id and the control signal (terminate the run?, why)';

------------------------------------------------------------------------------
-- Resolution of names and ids
------------------------------------------------------------------------------

-- What an error, notice or log line quotes of a value a client sent: the
-- value if short, else its first characters and its size (C: src/core/excerpt.c,
-- shared with the C functions' messages).
CREATE FUNCTION excerpt(value text) RETURNS text
	AS 'MODULE_PATHNAME', 'prefactor_excerpt_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION excerpt(text) IS
	'What messages quote of a client''s value: the value itself up to 64 bytes, else its first 48 bytes and its size';

-- The account a pfid belongs to, found through its partition.
-- (C, from the backend's partition cache: asked by every call naming a run or span.)
CREATE FUNCTION account_of(id pfid) RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_account_of' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION account_of(pfid) IS 'The account whose partition the id carries; NULL if none or if the calling role may not read that account';

-- The pfid a text names, or NULL when it is not a well-formed pfid.
-- (C: every name-or-id argument asks it, and a SQL version is planned per call.)
CREATE FUNCTION try_pfid(t text) RETURNS pfid
	AS 'MODULE_PATHNAME', 'pfid_try_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION try_pfid(text) IS 'The text as a pfid when it is one, otherwise NULL';

-- Every API function learns its account here or in owning_account, so these two
-- are where the caller's access is checked (prefactor.require_access, in
-- 50-security.sql). To a caller without access an unknown account and another
-- account's look the same: insufficient_privilege.
CREATE FUNCTION resolve_account(account text, level text DEFAULT 'admin') RETURNS pfid
	LANGUAGE plpgsql STABLE
AS $$
DECLARE
	found_id prefactor.pfid;
BEGIN
	IF account IS NULL THEN
		RAISE EXCEPTION 'account must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT a.account_id INTO found_id FROM prefactor.accounts a
	 WHERE a.account_id = prefactor.try_pfid(account) OR a.name = account
	 ORDER BY a.account_id = prefactor.try_pfid(account) DESC NULLS LAST LIMIT 1;
	PERFORM prefactor.require_access(found_id, level, format('account "%s"', prefactor.excerpt(account)));
	IF found_id IS NULL THEN
		RAISE EXCEPTION 'account "%" does not exist', prefactor.excerpt(account)
			USING ERRCODE = 'no_data_found',
				  HINT = 'Create it with prefactor.prefactor_create_account(name).';
	END IF;
	RETURN found_id;
END
$$;
COMMENT ON FUNCTION resolve_account(text, text) IS
	'The id of the account named by id or name, if the caller has the access level there; insufficient_privilege if not, no_data_found if none';

-- The one rule for a name a client gives (account, environment, agent, risk
-- profile, version identifier): present, not blank, at most 200 characters.
CREATE FUNCTION check_name(what text, value text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION '% must not be null', what USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF btrim(value, E' \t\n\r\f\v') = '' OR length(value) > 200 THEN
		RAISE EXCEPTION '% must have 1 to 200 characters and not be blank', what
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('Got %s (%s characters).', prefactor.excerpt(format('"%s"', value)), length(value));
	END IF;
	RETURN value;
END
$$;
COMMENT ON FUNCTION check_name(text, text) IS
	'Returns a name if it has 1 to 200 characters and is not blank; null_value_not_allowed if null, invalid_parameter_value otherwise';

-- Passes a looked-up id through; raises when the name or id was null or found nothing.
CREATE FUNCTION require_found(what text, value text, found_id pfid, hint text) RETURNS pfid
	LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION '% must not be null', what USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF found_id IS NULL THEN
		RAISE EXCEPTION '% "%" does not exist in this account', what, prefactor.excerpt(value)
			USING ERRCODE = 'no_data_found', HINT = hint;
	END IF;
	RETURN found_id;
END
$$;
COMMENT ON FUNCTION require_found(text, text, pfid, text) IS
	'The id found for a name or id; null_value_not_allowed or no_data_found (with the hint) otherwise';

CREATE FUNCTION resolve_environment(account pfid, environment text) RETURNS pfid
	LANGUAGE plpgsql STABLE
AS $$
BEGIN
	RETURN prefactor.require_found('environment', environment,
		(SELECT e.id FROM prefactor.environments e
		  WHERE e.account_id = resolve_environment.account
		    AND (e.id = prefactor.try_pfid(environment) OR e.name = environment)
		  ORDER BY e.id = prefactor.try_pfid(environment) DESC NULLS LAST LIMIT 1),
		'Create it with prefactor.prefactor_create_environment(account, name).');
END
$$;
COMMENT ON FUNCTION resolve_environment(pfid, text) IS
	'The id of the account''s environment named by id or name; no_data_found if none';

CREATE FUNCTION resolve_agent(account pfid, agent text) RETURNS pfid
	LANGUAGE plpgsql STABLE
AS $$
BEGIN
	RETURN prefactor.require_found('agent', agent,
		(SELECT g.id FROM prefactor.agents g
		  WHERE g.account_id = resolve_agent.account
		    AND (g.id = prefactor.try_pfid(agent) OR g.name = agent)
		  ORDER BY g.id = prefactor.try_pfid(agent) DESC NULLS LAST LIMIT 1),
		'Register it with prefactor.prefactor_register_agent(account, name).');
END
$$;
COMMENT ON FUNCTION resolve_agent(pfid, text) IS
	'The id of the account''s agent named by id or name; no_data_found if none';

-- The account of an instance or span id; no_data_found when no account owns its partition.
-- C (src/access/account_access.c): the one implementation, which the C span calls share.
CREATE FUNCTION owning_account(id pfid, what text, level text DEFAULT 'admin') RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_owning_account_sql' LANGUAGE C STABLE;
COMMENT ON FUNCTION owning_account(pfid, text, text) IS
	'The account whose partition the id carries, if the caller has the access level there; insufficient_privilege if not, no_data_found naming "what" if none';

------------------------------------------------------------------------------
-- Idempotency: a mutating call with a key first claims it; a retry finds the
-- first answer. The claim is part of the caller's transaction, so a failed
-- call leaves no key behind, and a concurrent retry waits for the first.
------------------------------------------------------------------------------
CREATE FUNCTION idempotency_claim(account pfid, key text, operation text, request jsonb)
	RETURNS jsonb
	LANGUAGE plpgsql
AS $$
DECLARE
	prior record;
BEGIN
	IF key IS NULL THEN
		RETURN NULL;
	END IF;
	IF key = '' OR length(key) > 64 THEN
		RAISE EXCEPTION 'idempotency key must have 1 to 64 characters, not %', length(key)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO prefactor.idempotency_keys AS k (account_id, key, operation, request)
	VALUES (account, key, operation, request)
	ON CONFLICT DO NOTHING;
	IF FOUND THEN
		RETURN NULL;
	END IF;
	SELECT k.operation, k.request, k.response INTO prior
	  FROM prefactor.idempotency_keys k
	 WHERE k.account_id = idempotency_claim.account AND k.key = idempotency_claim.key;
	IF prior.operation <> operation OR prior.request <> request THEN
		RAISE EXCEPTION 'idempotency key "%" was already used with different arguments', key
			USING ERRCODE = 'unique_violation',
				  DETAIL = format('First used for %s with %s.', prior.operation, prefactor.excerpt(prior.request::text)),
				  HINT = 'Use a new key for a new action; reuse a key only to retry the same call.';
	END IF;
	RETURN prior.response;
END
$$;
COMMENT ON FUNCTION idempotency_claim(pfid, text, text, jsonb) IS
	'Claims an idempotency key for a call; returns NULL to proceed, or the first answer of a retried call';

CREATE FUNCTION idempotency_answer(account pfid, key text, response jsonb) RETURNS void
	LANGUAGE plpgsql
AS $$
BEGIN
	IF key IS NOT NULL THEN
		UPDATE prefactor.idempotency_keys k SET response = idempotency_answer.response
		 WHERE k.account_id = idempotency_answer.account AND k.key = idempotency_answer.key;
	END IF;
END
$$;
COMMENT ON FUNCTION idempotency_answer(pfid, text, jsonb) IS
	'Stores the answer of a call that claimed an idempotency key';

------------------------------------------------------------------------------
-- Set-up
------------------------------------------------------------------------------
CREATE FUNCTION prefactor_create_account(name text) RETURNS pfid
	LANGUAGE plpgsql
AS $$
DECLARE
	part int := nextval('prefactor.account_partition_seq');
	new_id prefactor.pfid := prefactor.pfid_generate(part);
BEGIN
	INSERT INTO prefactor.accounts (account_id, partition, name)
	VALUES (new_id, part, prefactor.check_name('account name', name));
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION prefactor_create_account(text) IS
	'Creates an account with its own pfid partition; returns its id. Names are unique.';

CREATE FUNCTION prefactor_create_environment(account text, name text, description text DEFAULT NULL,
											 idempotency_key text DEFAULT NULL)
	RETURNS pfid
	LANGUAGE plpgsql
AS $$
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
	prior jsonb;
	new_id prefactor.pfid;
BEGIN
	prior := prefactor.idempotency_claim(account_id, idempotency_key, 'create_environment',
		jsonb_build_object('name', name, 'description', description));
	IF prior IS NOT NULL THEN
		RETURN (prior->>'id')::prefactor.pfid;
	END IF;
	INSERT INTO prefactor.environments (account_id, name, description)
	VALUES (account_id, prefactor.check_name('environment name', name), description)
	RETURNING id INTO new_id;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, jsonb_build_object('id', new_id));
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION prefactor_create_environment(text, text, text, text) IS
	'Creates a named environment (delivery stage) in the account (by id or name); returns its id';

CREATE FUNCTION prefactor_register_agent(account text, name text, description text DEFAULT NULL,
										 risk_profile text DEFAULT NULL, idempotency_key text DEFAULT NULL)
	RETURNS pfid
	LANGUAGE plpgsql
AS $$
<<prefactor_register_agent>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
	profile_id prefactor.pfid;
	new_id prefactor.pfid;
	prior jsonb;
BEGIN
	prior := prefactor.idempotency_claim(account_id, idempotency_key, 'register_agent',
		jsonb_build_object('name', name, 'description', description, 'risk_profile', risk_profile));
	IF prior IS NOT NULL THEN
		RETURN (prior->>'id')::prefactor.pfid;
	END IF;
	IF risk_profile IS NOT NULL THEN
		-- looked up first, then checked: Citus cannot type a parameter inside a subquery argument
		SELECT p.id INTO profile_id FROM prefactor.risk_profiles p
		 WHERE p.account_id = prefactor_register_agent.account_id
		   AND (p.id = prefactor.try_pfid(risk_profile) OR p.name = risk_profile)
		   AND p.deleted_at IS NULL;
		profile_id := prefactor.require_found('risk profile', risk_profile, profile_id,
			'Create one with prefactor.prefactor_create_risk_profile().');
	END IF;
	INSERT INTO prefactor.agents (account_id, name, description, risk_profile_id)
	VALUES (account_id, prefactor.check_name('agent name', name), description, profile_id)
	RETURNING id INTO new_id;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, jsonb_build_object('id', new_id));
	RETURN new_id;
END prefactor_register_agent
$$;
COMMENT ON FUNCTION prefactor_register_agent(text, text, text, text, text) IS
	'Registers an agent in the account (by id or name), optionally with a risk profile (by id or name); returns its id';

------------------------------------------------------------------------------
-- Automatic schema versions and versions
------------------------------------------------------------------------------

-- Checks the shape of an activity schema document; raises invalid_parameter_value.
CREATE FUNCTION check_schema_document(schema jsonb) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
	item jsonb;
	pos int := 0;
	names text[] := '{}';
BEGIN
	IF jsonb_typeof(schema) <> 'object' THEN
		RAISE EXCEPTION 'schema must be a JSON object, not %', jsonb_typeof(schema)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Send {"external_identifier": ..., "span_type_schemas": [{"name": ..., "params_schema": {...}}]}.';
	END IF;
	IF schema ? 'external_identifier' AND jsonb_typeof(schema->'external_identifier') NOT IN ('string', 'null') THEN
		RAISE EXCEPTION 'schema.external_identifier must be a string'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF schema ? 'span_type_schemas' AND jsonb_typeof(schema->'span_type_schemas') NOT IN ('array', 'null') THEN
		RAISE EXCEPTION 'schema.span_type_schemas must be an array, not %', jsonb_typeof(schema->'span_type_schemas')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR item IN SELECT e FROM jsonb_array_elements(coalesce(nullif(schema->'span_type_schemas', 'null'), '[]')) e LOOP
		IF jsonb_typeof(item) <> 'object' OR jsonb_typeof(item->'name') IS DISTINCT FROM 'string'
		   OR item->>'name' = '' OR length(item->>'name') > 200 THEN
			RAISE EXCEPTION 'schema.span_type_schemas[%] must be an object with a name of 1 to 200 characters', pos
				USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', prefactor.excerpt(item::text));
		END IF;
		IF item->>'name' = ANY (names) THEN
			RAISE EXCEPTION 'span type "%" is declared twice in schema.span_type_schemas', prefactor.excerpt(item->>'name')
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF jsonb_typeof(item->'data_risk') NOT IN ('object', 'null') THEN
			RAISE EXCEPTION 'schema.span_type_schemas[%].data_risk must be an object', pos
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF EXISTS (SELECT 1 FROM unnest(ARRAY['description', 'template', 'result_template']) f
				   WHERE jsonb_typeof(item->f) NOT IN ('string', 'null')) THEN
			RAISE EXCEPTION 'schema.span_type_schemas[%]: description, template and result_template must be strings', pos
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		names := names || (item->>'name');
		pos := pos + 1;
	END LOOP;
END
$$;
COMMENT ON FUNCTION check_schema_document(jsonb) IS
	'Raises invalid_parameter_value unless the activity schema document has the expected shape';

-- Checks the shape of a version document; raises invalid_parameter_value.
CREATE FUNCTION check_version_document(version jsonb) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
	IF jsonb_typeof(version) <> 'object' THEN
		RAISE EXCEPTION 'version must be a JSON object, not %', jsonb_typeof(version)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Send {"external_identifier": "v1.2.3", "name": ..., "description": ...}.';
	END IF;
	IF EXISTS (SELECT 1 FROM unnest(ARRAY['external_identifier', 'name', 'description']) f
			   WHERE jsonb_typeof(version->f) NOT IN ('string', 'null')) THEN
		RAISE EXCEPTION 'version.external_identifier, name and description must be strings'
			USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', prefactor.excerpt(version::text));
	END IF;
	-- a version is deployed and shown by its identifier, so it must have one
	IF version->>'external_identifier' IS NULL THEN
		RAISE EXCEPTION 'version.external_identifier is required'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Send {"external_identifier": "v1.2.3", ...}: a semver tag, a commit SHA, any string.';
	END IF;
	PERFORM prefactor.check_name('version.external_identifier', version->>'external_identifier');
END
$$;
COMMENT ON FUNCTION check_version_document(jsonb) IS
	'Raises invalid_parameter_value unless the version document has the expected shape';

-- SHA-256 of a document's canonical text, as UTF-8 (jsonb output is canonical:
-- key order and whitespace never make a new version). C: every run start asks twice.
CREATE FUNCTION canonical_digest(doc jsonb) RETURNS bytea
	AS 'MODULE_PATHNAME', 'prefactor_canonical_digest' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION canonical_digest(jsonb) IS 'SHA-256 of the canonical JSON text of a document';

-- The agent's schema version for this content, created (numbered by arrival) if unseen.
CREATE FUNCTION ensure_schema_version(account pfid, agent pfid, schema jsonb) RETURNS pfid
	LANGUAGE plpgsql
AS $$
DECLARE
	digest bytea := prefactor.canonical_digest(schema);
	found_id prefactor.pfid;
BEGIN
	SELECT s.id INTO found_id FROM prefactor.activity_schema_versions s
	 WHERE s.account_id = account AND s.agent_id = agent AND s.content_digest = digest;
	IF found_id IS NOT NULL THEN
		RETURN found_id;
	END IF;
	PERFORM prefactor.check_schema_document(schema);
	-- Serialise creation per agent; a concurrent creator's row is visible once we hold the lock.
	PERFORM 1 FROM prefactor.agents g WHERE g.account_id = account AND g.id = agent FOR NO KEY UPDATE;
	SELECT s.id INTO found_id FROM prefactor.activity_schema_versions s
	 WHERE s.account_id = account AND s.agent_id = agent AND s.content_digest = digest;
	IF found_id IS NOT NULL THEN
		RETURN found_id;
	END IF;
	INSERT INTO prefactor.activity_schema_versions
		(account_id, agent_id, number, external_identifier, content, content_digest, problems)
	SELECT account, agent, coalesce(max(s.number), 0) + 1, schema->>'external_identifier', schema, digest,
		   prefactor.activity_schema_problems(schema)
	  FROM prefactor.activity_schema_versions s
	 WHERE s.account_id = account AND s.agent_id = agent
	RETURNING id INTO found_id;
	INSERT INTO prefactor.span_types
		(account_id, schema_version_id, name, params_schema, result_schema, description,
		 template, result_template, data_risk)
	SELECT account, found_id, t->>'name', nullif(t->'params_schema', 'null'), nullif(t->'result_schema', 'null'),
		   t->>'description', t->>'template', t->>'result_template', nullif(t->'data_risk', 'null')
	  FROM jsonb_array_elements(coalesce(nullif(schema->'span_type_schemas', 'null'), '[]')) t;
	RETURN found_id;
END
$$;
COMMENT ON FUNCTION ensure_schema_version(pfid, pfid, jsonb) IS
	'The agent''s schema version with this canonical content, created with the next number if unseen';

-- The agent's version for this metadata and schema version, created if unseen.
CREATE FUNCTION ensure_version(account pfid, agent pfid, version jsonb, schema_version pfid) RETURNS pfid
	LANGUAGE plpgsql
AS $$
DECLARE
	digest bytea := prefactor.canonical_digest(version);
	found_id prefactor.pfid;
BEGIN
	SELECT v.id INTO found_id FROM prefactor.agent_versions v
	 WHERE v.account_id = account AND v.agent_id = agent
	   AND v.metadata_digest = digest AND v.schema_version_id = schema_version;
	IF found_id IS NOT NULL THEN
		RETURN found_id;
	END IF;
	PERFORM prefactor.check_version_document(version);
	PERFORM 1 FROM prefactor.agents g WHERE g.account_id = account AND g.id = agent FOR NO KEY UPDATE;
	SELECT v.id INTO found_id FROM prefactor.agent_versions v
	 WHERE v.account_id = account AND v.agent_id = agent
	   AND v.metadata_digest = digest AND v.schema_version_id = schema_version;
	IF found_id IS NOT NULL THEN
		RETURN found_id;
	END IF;
	INSERT INTO prefactor.agent_versions
		(account_id, agent_id, schema_version_id, external_identifier, name, description, metadata, metadata_digest)
	VALUES (account, agent, schema_version, version->>'external_identifier',
			coalesce(version->>'name', version->>'external_identifier'), version->>'description', version, digest)
	RETURNING id INTO found_id;
	RETURN found_id;
END
$$;
COMMENT ON FUNCTION ensure_version(pfid, pfid, jsonb, pfid) IS
	'The agent''s version for this canonical metadata and schema version, created if unseen';

------------------------------------------------------------------------------
-- Runs
------------------------------------------------------------------------------

-- Registers a run as pending or active; shared by start_run and register_run.
CREATE FUNCTION create_instance(operation text, account text, agent text, environment text,
								version jsonb, schema jsonb, purpose text, idempotency_key text,
								started_at timestamptz)
	RETURNS pfid
	LANGUAGE plpgsql
AS $$
<<create_instance>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'ingest');
	agent_id prefactor.pfid := prefactor.resolve_agent(account_id, agent);
	environment_id prefactor.pfid := prefactor.resolve_environment(account_id, environment);
	prior jsonb;
	latest_metadata jsonb;
	schema_version_id prefactor.pfid;
	version_id prefactor.pfid;
	revision_id prefactor.pfid;
	new_id prefactor.pfid;
BEGIN
	prior := prefactor.idempotency_claim(account_id, idempotency_key, operation,
		jsonb_build_object('agent', agent_id, 'environment', environment_id, 'version', version,
						   'schema', schema, 'purpose', purpose, 'started_at', started_at));
	IF prior IS NOT NULL THEN
		RETURN (prior->>'instance_id')::prefactor.pfid;
	END IF;
	IF purpose IS NULL THEN
		RAISE EXCEPTION 'purpose must not be null' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Leave it out for live, or send live, smoke_test or eval.';
	END IF;
	IF purpose NOT IN ('live', 'smoke_test', 'eval') THEN
		RAISE EXCEPTION 'purpose must be live, smoke_test or eval, not %', prefactor.excerpt(purpose)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- What the client left out comes from what was recorded, as it was
	-- recorded: nothing is created that no client reported.
	IF schema IS NULL THEN
		-- the latest version (of this metadata, if sent) with its own schema version
		SELECT v.id, v.schema_version_id INTO version_id, schema_version_id
		  FROM prefactor.agent_versions v
		 WHERE v.account_id = create_instance.account_id AND v.agent_id = create_instance.agent_id
		   AND (version IS NULL OR v.metadata_digest = prefactor.canonical_digest(version))
		 ORDER BY v.created_at DESC, v.id DESC LIMIT 1;
		IF NOT FOUND AND version IS NULL THEN
			RAISE EXCEPTION 'agent "%" has no version yet, so version and schema cannot be omitted', prefactor.excerpt(agent)
				USING ERRCODE = 'no_data_found',
					  HINT = 'Send the version and schema with the agent''s first run.';
		ELSIF NOT FOUND THEN
			-- an unseen version without a schema: paired with the agent's latest schema version
			SELECT s.id INTO schema_version_id FROM prefactor.activity_schema_versions s
			 WHERE s.account_id = create_instance.account_id AND s.agent_id = create_instance.agent_id
			 ORDER BY s.number DESC LIMIT 1;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'agent "%" has no schema version yet, so the schema cannot be omitted', prefactor.excerpt(agent)
					USING ERRCODE = 'no_data_found',
						  HINT = 'Send the schema with the agent''s first run.';
			END IF;
			version_id := prefactor.ensure_version(account_id, agent_id, version, schema_version_id);
		END IF;
	ELSE
		schema_version_id := prefactor.ensure_schema_version(account_id, agent_id, schema);
		IF version IS NULL THEN
			-- the latest version's metadata, paired with the schema the client sent
			SELECT v.metadata INTO latest_metadata
			  FROM prefactor.agent_versions v
			 WHERE v.account_id = create_instance.account_id AND v.agent_id = create_instance.agent_id
			 ORDER BY v.created_at DESC, v.id DESC LIMIT 1;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'agent "%" has no version yet, so the version cannot be omitted', prefactor.excerpt(agent)
					USING ERRCODE = 'no_data_found',
						  HINT = 'Send the version with the agent''s first run.';
			END IF;
		END IF;
		version_id := prefactor.ensure_version(account_id, agent_id, coalesce(version, latest_metadata),
											   schema_version_id);
	END IF;

	-- the risk profile revision this run is scored under, if the agent has a live profile
	SELECT r.id INTO revision_id
	  FROM prefactor.agents g
	  JOIN prefactor.risk_profiles p ON p.account_id = g.account_id AND p.id = g.risk_profile_id
	  JOIN prefactor.risk_profile_revisions r ON r.account_id = p.account_id AND r.risk_profile_id = p.id
	 WHERE g.account_id = create_instance.account_id AND g.id = create_instance.agent_id
	   AND p.deleted_at IS NULL
	 ORDER BY r.revision DESC LIMIT 1;

	INSERT INTO prefactor.instances
		(account_id, agent_id, version_id, schema_version_id, environment_id, purpose, status,
		 started_at, risk_profile_revision_id, risk_score, risk_level)
	VALUES (account_id, agent_id, version_id, schema_version_id, environment_id, purpose,
			CASE WHEN operation = 'start_run' THEN 'active' ELSE 'pending' END,
			CASE WHEN operation = 'start_run' THEN coalesce(started_at, now()) END,
			revision_id, CASE WHEN revision_id IS NOT NULL THEN 0 END,
			CASE WHEN revision_id IS NOT NULL THEN 'low'::prefactor.risk_level END)
	RETURNING id INTO new_id;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, jsonb_build_object('instance_id', new_id));
	RETURN new_id;
END create_instance
$$;
COMMENT ON FUNCTION create_instance(text, text, text, text, jsonb, jsonb, text, text, timestamptz) IS
	'Shared body of prefactor_start_run and prefactor_register_run';

CREATE FUNCTION prefactor_start_run(account text, agent text, environment text, version jsonb, schema jsonb,
									purpose text DEFAULT 'live', idempotency_key text DEFAULT NULL,
									started_at timestamptz DEFAULT NULL)
	RETURNS pfid
	LANGUAGE plpgsql	-- not SQL: as SECURITY DEFINER it would be planned on every call
AS $$
BEGIN
	RETURN prefactor.create_instance('start_run', account, agent, environment, version, schema, purpose,
									 idempotency_key, started_at);
END
$$;
COMMENT ON FUNCTION prefactor_start_run(text, text, text, jsonb, jsonb, text, text, timestamptz) IS
	'Starts a run (status active) of the agent in the environment; creates the version and schema version on first sight; returns the instance id. started_at NULL means now().';

CREATE FUNCTION prefactor_register_run(account text, agent text, environment text, version jsonb, schema jsonb,
									   purpose text DEFAULT 'live', idempotency_key text DEFAULT NULL)
	RETURNS pfid
	LANGUAGE plpgsql
AS $$
BEGIN
	RETURN prefactor.create_instance('register_run', account, agent, environment, version, schema, purpose,
									 idempotency_key, NULL);
END
$$;
COMMENT ON FUNCTION prefactor_register_run(text, text, text, jsonb, jsonb, text, text) IS
	'Registers a run (status pending) for a client that starts it later with prefactor_begin_run; returns the instance id';

-- Whether a run or span status is open (pending, active): the statuses' one
-- home is C (src/guard/statuses.c), which the guards use too.
CREATE FUNCTION status_open(status text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prefactor_status_open_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION status_open(text) IS
	'Whether a run or span status is open (pending or active) rather than finished';

-- The run lock has one home, in C (src/guard/span_guard.c): the span guard
-- takes it for every span, and the state changes of a run take it here.
CREATE FUNCTION lock_run(account pfid, instance pfid) RETURNS void
	AS 'MODULE_PATHNAME', 'prefactor_lock_run_sql' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION lock_run(pfid, pfid) IS
	'Takes the run lock (FOR NO KEY UPDATE of the run row) that span inserts and run state changes share; no_data_found if the run does not exist';

-- Locks a run's row for a state change and returns it; no_data_found if absent.
CREATE FUNCTION lock_instance(account pfid, instance pfid) RETURNS prefactor.instances
	LANGUAGE plpgsql
AS $$
DECLARE
	row prefactor.instances;
BEGIN
	PERFORM prefactor.lock_run(account, instance);
	SELECT * INTO row FROM prefactor.instances i WHERE i.account_id = account AND i.id = instance;
	RETURN row;
END
$$;
COMMENT ON FUNCTION lock_instance(pfid, pfid) IS 'Locks an instance row for a state change; no_data_found if absent';

CREATE FUNCTION prefactor_begin_run(instance pfid, started_at timestamptz DEFAULT NULL,
									idempotency_key text DEFAULT NULL)
	RETURNS text
	LANGUAGE plpgsql
AS $$
<<prefactor_begin_run>>
DECLARE
	account_id prefactor.pfid := prefactor.owning_account(instance, 'instance', 'ingest');
	run prefactor.instances;
	prior jsonb;
BEGIN
	prior := prefactor.idempotency_claim(account_id, idempotency_key, 'begin_run',
		jsonb_build_object('instance', instance, 'started_at', started_at));
	IF prior IS NOT NULL THEN
		RETURN prior->>'status';
	END IF;
	run := prefactor.lock_instance(account_id, instance);
	IF run.status <> 'pending' THEN
		RAISE EXCEPTION 'instance % is % and cannot be started', instance, run.status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Only a pending run (from prefactor_register_run) can be started.';
	END IF;
	-- now() as a value: Citus refuses a STABLE function in a COALESCE of an UPDATE
	run.started_at := coalesce(prefactor_begin_run.started_at, now());
	UPDATE prefactor.instances i SET status = 'active', started_at = run.started_at
	 WHERE i.account_id = prefactor_begin_run.account_id AND i.id = instance;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, '{"status": "active"}');
	RETURN 'active';
END prefactor_begin_run
$$;
COMMENT ON FUNCTION prefactor_begin_run(pfid, timestamptz, text) IS
	'Starts a pending run (status active); started_at NULL means now(); returns the new status';

-- Ends a run: cancels its unfinished spans, then sets the final status.
CREATE FUNCTION end_instance(operation text, instance pfid, status text, finished_at timestamptz,
							 reason text, idempotency_key text)
	RETURNS text
	LANGUAGE plpgsql
AS $$
<<end_instance>>
DECLARE
	account_id prefactor.pfid := prefactor.owning_account(instance, 'instance', 'ingest');
	run prefactor.instances;
	prior jsonb;
	finish_time timestamptz;
BEGIN
	prior := prefactor.idempotency_claim(account_id, idempotency_key, operation,
		jsonb_build_object('instance', instance, 'status', status, 'finished_at', finished_at, 'reason', reason));
	IF prior IS NOT NULL THEN
		RETURN prior->>'status';
	END IF;
	IF status IS NULL THEN
		RAISE EXCEPTION 'status must not be null' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Leave it out for complete, or send complete, failed or cancelled.';
	END IF;
	IF status NOT IN ('complete', 'failed', 'cancelled', 'terminated') THEN
		RAISE EXCEPTION 'a run finishes as complete, failed or cancelled, not %', prefactor.excerpt(status)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- Waits for spans being written to this run, and makes later ones wait for us.
	run := prefactor.lock_instance(account_id, instance);
	IF NOT prefactor.status_open(run.status) THEN
		RAISE EXCEPTION 'instance % is already finished (%)', instance, run.status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'A finished run cannot change; retry with the same idempotency key to get the first answer.';
	END IF;
	IF run.status = 'pending' AND status NOT IN ('cancelled', 'terminated') THEN
		RAISE EXCEPTION 'instance % has not started, so it can only be cancelled', instance
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Start it with prefactor.prefactor_begin_run() first.';
	END IF;
	-- A finish time the caller left out is taken once the lock is held, and
	-- never precedes an open span's start; a caller's time is kept as sent
	-- (the guard refuses one before an open span's start). The guard closes
	-- the open spans at this time.
	finish_time := finished_at;
	IF finish_time IS NULL THEN
		SELECT greatest(clock_timestamp(), run.started_at, max(s.started_at)) INTO finish_time FROM prefactor.spans s
		 WHERE s.account_id = end_instance.account_id AND s.instance_id = instance
		   AND prefactor.status_open(s.status);
	END IF;
	UPDATE prefactor.instances i
	   SET status = end_instance.status,
		   started_at = coalesce(i.started_at, finish_time),
		   finished_at = finish_time,
		   termination_reason = reason
	 WHERE i.account_id = end_instance.account_id AND i.id = instance;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, jsonb_build_object('status', status));
	RETURN status;
END end_instance
$$;
COMMENT ON FUNCTION end_instance(text, pfid, text, timestamptz, text, text) IS
	'Shared body of prefactor_finish_run and prefactor_terminate_run';

CREATE FUNCTION prefactor_finish_run(instance pfid, status text DEFAULT 'complete',
									 finished_at timestamptz DEFAULT NULL, idempotency_key text DEFAULT NULL)
	RETURNS text
	LANGUAGE plpgsql
AS $$
BEGIN
	IF status = 'terminated' THEN
		RAISE EXCEPTION 'use prefactor_terminate_run to terminate a run'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN prefactor.end_instance('finish_run', instance, status, finished_at, NULL, idempotency_key);
END
$$;
COMMENT ON FUNCTION prefactor_finish_run(pfid, text, timestamptz, text) IS
	'Finishes a run as complete, failed or cancelled (cancelled also from pending); unfinished spans are cancelled at the same time; returns the status';

CREATE FUNCTION prefactor_terminate_run(instance pfid, reason text, idempotency_key text DEFAULT NULL)
	RETURNS text
	LANGUAGE plpgsql
AS $$
BEGIN
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'a termination needs a reason' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN prefactor.end_instance('terminate_run', instance, 'terminated', NULL, reason, idempotency_key);
END
$$;
COMMENT ON FUNCTION prefactor_terminate_run(pfid, text, text) IS
	'Ends a run as terminated with its reason; later span calls store nothing and answer terminate = true with the reason';

CREATE FUNCTION prefactor_record_quality(instance pfid, name text, payload jsonb,
										 idempotency_key text DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql
AS $$
<<prefactor_record_quality>>
DECLARE
	account_id prefactor.pfid := prefactor.owning_account(instance, 'instance', 'ingest');
BEGIN
	IF prefactor.idempotency_claim(account_id, idempotency_key, 'record_quality',
			jsonb_build_object('instance', instance, 'name', name, 'payload', payload)) IS NOT NULL THEN
		RETURN;
	END IF;
	IF name IS NULL THEN
		RAISE EXCEPTION 'quality name must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM prefactor.lock_instance(account_id, instance);
	IF payload IS NULL THEN
		DELETE FROM prefactor.instance_quality q
		 WHERE q.account_id = prefactor_record_quality.account_id AND q.instance_id = instance
		   AND q.name = prefactor_record_quality.name;
	ELSE
		INSERT INTO prefactor.instance_quality AS q (account_id, instance_id, name, payload)
		VALUES (account_id, instance, name, payload)
		ON CONFLICT ON CONSTRAINT instance_quality_pkey
		DO UPDATE SET payload = excluded.payload, recorded_at = excluded.recorded_at;
	END IF;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, '{}');
END prefactor_record_quality
$$;
COMMENT ON FUNCTION prefactor_record_quality(pfid, text, jsonb, text) IS
	'Records the named quality evaluation of a run; a NULL payload removes that name';

------------------------------------------------------------------------------
-- Spans
------------------------------------------------------------------------------

-- The span calls are the hot path: C over backend caches (src/api/span_api.c).
-- They write their row through the table AM with its row triggers, constraints
-- and foreign keys (src/core/row_write.c), so the span triggers apply to them
-- exactly as to a plain INSERT/UPDATE or a bulk load.
CREATE FUNCTION prefactor_start_span(instance pfid, span_type text, payload jsonb DEFAULT '{}',
									 parent_span pfid DEFAULT NULL, started_at timestamptz DEFAULT NULL,
									 idempotency_key text DEFAULT NULL)
	RETURNS span_ack
	AS 'MODULE_PATHNAME', 'prefactor_start_span' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION prefactor_start_span(pfid, text, jsonb, pfid, timestamptz, text) IS
	'Starts a span (status active) of the run; returns the span id and the control signal (terminate, reason). started_at NULL means now().';

CREATE FUNCTION prefactor_record_span(instance pfid, span_type text, payload jsonb, result jsonb DEFAULT NULL,
									  status text DEFAULT 'complete', parent_span pfid DEFAULT NULL,
									  started_at timestamptz DEFAULT NULL, finished_at timestamptz DEFAULT NULL,
									  idempotency_key text DEFAULT NULL)
	RETURNS span_ack
	AS 'MODULE_PATHNAME', 'prefactor_record_span' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION prefactor_record_span(pfid, text, jsonb, jsonb, text, pfid, timestamptz, timestamptz, text) IS
	'Records a whole span in one call (default status complete); returns the span id and the control signal';

CREATE FUNCTION prefactor_finish_span(span pfid, status text DEFAULT 'complete', result jsonb DEFAULT NULL,
									  finished_at timestamptz DEFAULT NULL, idempotency_key text DEFAULT NULL)
	RETURNS span_ack
	AS 'MODULE_PATHNAME', 'prefactor_finish_span' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION prefactor_finish_span(pfid, text, jsonb, timestamptz, text) IS
	'Finishes an active span with its status and result; returns the span id and the control signal. Finishing a finished span raises object_not_in_prerequisite_state unless retried with the same idempotency key.';

------------------------------------------------------------------------------
-- Guards: the same checks for the functions and for plain INSERT/UPDATE/COPY
------------------------------------------------------------------------------

-- Spans are written only into active runs (row locked), conformance is
-- left to the validator, and the declared span type is resolved (C, src/guard/span_guard.c).
CREATE FUNCTION spans_before_insert() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_spans_before_insert' LANGUAGE C;
COMMENT ON FUNCTION spans_before_insert() IS
	'BEFORE INSERT on spans: only active runs take spans; sets span_type_id from the run''s schema version';

-- A span changes once, from unfinished to finished; what it was stays.
CREATE FUNCTION spans_before_update() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_spans_before_update' LANGUAGE C;
COMMENT ON FUNCTION spans_before_update() IS
	'BEFORE UPDATE on spans: only an unfinished span changes, and only its status, result and finish time';

-- A run's row rules hold on every insert and update; its stamps never change,
-- a finished run never changes, a started run never goes back, and a run
-- that finishes closes its open spans (C, src/guard/run_guard.c).
CREATE FUNCTION instances_before_insert() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_instances_before_insert' LANGUAGE C;
COMMENT ON FUNCTION instances_before_insert() IS
	'BEFORE INSERT on instances: the row rules of a run (status, purpose, times, id partition), raised as check_violation under the constraint names';
CREATE FUNCTION instances_before_update() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_instances_before_update' LANGUAGE C;
COMMENT ON FUNCTION instances_before_update() IS
	'BEFORE UPDATE on instances: stamps never change; a finished run never changes; a started run never goes back; the row rules hold';

-- Run data leaves only through prefactor_purge_runs, and only whole finished runs.
CREATE FUNCTION run_data_guard_delete() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	IF current_setting('prefactor.purging', true) IS DISTINCT FROM 'on' THEN
		RAISE EXCEPTION 'rows of %.% are part of the audit trail', TG_TABLE_SCHEMA, TG_TABLE_NAME
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Remove whole finished runs with prefactor.prefactor_purge_runs(account, older_than).';
	END IF;
	RETURN OLD;
END
$$;
COMMENT ON FUNCTION run_data_guard_delete() IS
	'BEFORE DELETE on instances and spans: only prefactor_purge_runs removes run data';

-- Versions, schema versions and span types are the audit trail.
CREATE FUNCTION audit_guard() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	RAISE EXCEPTION 'rows of %.% are part of the audit trail and never change', TG_TABLE_SCHEMA, TG_TABLE_NAME
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  HINT = 'A changed version or schema is recorded as a new version by the next run that reports it.';
END
$$;
COMMENT ON FUNCTION audit_guard() IS
	'BEFORE UPDATE, DELETE or TRUNCATE on the audit-trail tables: always refuses';

CREATE TRIGGER spans_10_guard BEFORE INSERT ON spans FOR EACH ROW EXECUTE FUNCTION spans_before_insert();
CREATE TRIGGER spans_10_guard_update BEFORE UPDATE ON spans FOR EACH ROW EXECUTE FUNCTION spans_before_update();
CREATE TRIGGER spans_10_guard_delete BEFORE DELETE ON spans FOR EACH ROW EXECUTE FUNCTION run_data_guard_delete();
CREATE TRIGGER instances_10_guard BEFORE INSERT ON instances FOR EACH ROW EXECUTE FUNCTION instances_before_insert();
CREATE TRIGGER instances_10_guard_update BEFORE UPDATE ON instances FOR EACH ROW EXECUTE FUNCTION instances_before_update();
CREATE TRIGGER instances_10_guard_delete BEFORE DELETE ON instances FOR EACH ROW EXECUTE FUNCTION run_data_guard_delete();
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON agent_versions FOR EACH ROW EXECUTE FUNCTION audit_guard();
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON activity_schema_versions FOR EACH ROW EXECUTE FUNCTION audit_guard();
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON span_types FOR EACH ROW EXECUTE FUNCTION audit_guard();
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON agent_versions FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON activity_schema_versions FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON span_types FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON instances FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON spans FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();

CREATE FUNCTION prefactor_purge_runs(account text, older_than timestamptz)
	RETURNS TABLE (instances bigint, spans bigint)
	LANGUAGE plpgsql
AS $$
<<prefactor_purge_runs>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
BEGIN
	IF older_than IS NULL THEN
		RAISE EXCEPTION 'older_than must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- SET LOCAL statements in DO blocks, not set_config(): on Citus the delete
	-- guard runs on the workers, and Citus passes a DO block's SET LOCAL on to
	-- them when citus.propagate_set_commands is local (without Citus that
	-- setting is a mere placeholder).
	PERFORM set_config('citus.propagate_set_commands', 'local', true);
	DO $purging$ BEGIN SET LOCAL prefactor.purging = on; END $purging$;
	-- One statement, no temporary table: this runs as the extension owner, and a
	-- caller's own pg_temp table (with its own triggers) must never be used here.
	-- The spans' foreign keys are NO ACTION, so they are checked at statement end.
	WITH runs AS (
		SELECT i.id FROM prefactor.instances i
		 WHERE i.account_id = prefactor_purge_runs.account_id
		   AND NOT prefactor.status_open(i.status) AND i.finished_at < older_than
		FOR UPDATE
	), gone_spans AS (
		DELETE FROM prefactor.spans s USING runs r
		 WHERE s.account_id = prefactor_purge_runs.account_id AND s.instance_id = r.id
		RETURNING 1
	), gone_runs AS (
		DELETE FROM prefactor.instances i USING runs r
		 WHERE i.account_id = prefactor_purge_runs.account_id AND i.id = r.id
		RETURNING 1
	)
	SELECT (SELECT count(*) FROM gone_runs), (SELECT count(*) FROM gone_spans)
	  INTO prefactor_purge_runs.instances, prefactor_purge_runs.spans;
	DO $purging$ BEGIN SET LOCAL prefactor.purging = off; END $purging$;
	RETURN NEXT;
END prefactor_purge_runs
$$;
COMMENT ON FUNCTION prefactor_purge_runs(text, timestamptz) IS
	'Retention: deletes the account''s whole runs that finished before older_than, with their spans and quality; returns the counts';

------------------------------------------------------------------------------
-- Deployments
------------------------------------------------------------------------------
CREATE FUNCTION prefactor_deploy(account text, agent text, environment text, version text,
								 idempotency_key text DEFAULT NULL) RETURNS pfid
	LANGUAGE plpgsql
AS $$
<<prefactor_deploy>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
	agent_id prefactor.pfid := prefactor.resolve_agent(account_id, agent);
	environment_id prefactor.pfid := prefactor.resolve_environment(account_id, environment);
	version_id prefactor.pfid;
	current record;
	new_id prefactor.pfid;
	prior jsonb;
BEGIN
	prior := prefactor.idempotency_claim(account_id, idempotency_key, 'deploy',
		jsonb_build_object('agent', agent_id, 'environment', environment_id, 'version', version));
	IF prior IS NOT NULL THEN
		RETURN (prior->>'id')::prefactor.pfid;
	END IF;
	IF version IS NULL THEN
		RAISE EXCEPTION 'version must not be null' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Name the version by its external identifier or id.';
	END IF;
	SELECT v.id INTO version_id FROM prefactor.agent_versions v
	 WHERE v.account_id = prefactor_deploy.account_id AND v.agent_id = prefactor_deploy.agent_id
	   AND (v.id = prefactor.try_pfid(version) OR v.external_identifier = version)
	 ORDER BY v.id = prefactor.try_pfid(version) DESC NULLS LAST, v.created_at DESC, v.id DESC LIMIT 1;
	IF version_id IS NULL THEN
		RAISE EXCEPTION 'agent "%" has no version "%"', prefactor.excerpt(agent), prefactor.excerpt(version)
			USING ERRCODE = 'no_data_found',
				  HINT = 'Versions are created by the first run that reports them (prefactor_start_run).';
	END IF;
	-- Serialise deploys of one agent, so concurrent deploys leave exactly one active.
	PERFORM 1 FROM prefactor.agents g
	 WHERE g.account_id = prefactor_deploy.account_id AND g.id = prefactor_deploy.agent_id FOR NO KEY UPDATE;
	SELECT d.id, d.version_id INTO current FROM prefactor.agent_deployments d
	 WHERE d.account_id = prefactor_deploy.account_id AND d.agent_id = prefactor_deploy.agent_id
	   AND d.environment_id = prefactor_deploy.environment_id AND d.retired_at IS NULL;
	IF current.version_id = version_id THEN
		new_id := current.id;	-- already live: nothing changes
	ELSE
		UPDATE prefactor.agent_deployments d SET retired_at = greatest(d.deployed_at, now())
		 WHERE d.account_id = prefactor_deploy.account_id AND d.id = current.id;
		INSERT INTO prefactor.agent_deployments (account_id, agent_id, environment_id, version_id)
		VALUES (account_id, agent_id, environment_id, version_id)
		RETURNING id INTO new_id;
	END IF;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, jsonb_build_object('id', new_id));
	RETURN new_id;
END prefactor_deploy
$$;
COMMENT ON FUNCTION prefactor_deploy(text, text, text, text, text) IS
	'Makes the agent''s version (by id or external identifier) the active deployment in the environment, retiring the previous one; returns the deployment id';

CREATE VIEW live_deployments AS
SELECT d.account_id, d.agent_id, g.name AS agent, d.environment_id, e.name AS environment,
	   d.version_id, v.external_identifier AS version, v.schema_version_id, d.id AS deployment_id, d.deployed_at
  FROM prefactor.agent_deployments d
  JOIN prefactor.agents g ON g.account_id = d.account_id AND g.id = d.agent_id
  JOIN prefactor.environments e ON e.account_id = d.account_id AND e.id = d.environment_id
  JOIN prefactor.agent_versions v ON v.account_id = d.account_id AND v.id = d.version_id
 WHERE d.retired_at IS NULL;
COMMENT ON VIEW live_deployments IS 'What is live where: the active deployment of each agent in each environment';
COMMENT ON COLUMN live_deployments.version IS 'External identifier of the deployed version';
COMMENT ON COLUMN live_deployments.deployed_at IS 'When this version became live in the environment';
