------------------------------------------------------------------------------
-- Activity schemas: per agent, the numbered schema versions its runs report
-- and the span types each declares, and the JSON Schema documents an account
-- shares with its span types.
--
-- JSON Schema validation (engine: src/jsonschema/, glue: src/validation/validation.c).
-- Spans are validated by the span trigger against the span type of the run's
-- schema version; mismatches are recorded on the span, which is always stored.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION jsonschema_is_valid(schema jsonb, instance jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prefactor_jsonschema_is_valid'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jsonschema_is_valid(jsonb, jsonb) IS
	'Whether the instance conforms to the JSON Schema (draft 2020-12 by default; 2019-09, draft-07, draft-06 or draft-04 by $schema); raises invalid_parameter_value for a malformed schema';

CREATE OR REPLACE FUNCTION jsonschema_errors(schema jsonb, instance jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_jsonschema_errors'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jsonschema_errors(jsonb, jsonb) IS
	'Why the instance does not conform: an array of {instance_location, keyword_location, message} (empty when it conforms; at most prefactor.max_validation_errors)';

CREATE OR REPLACE FUNCTION jsonschema_check(schema jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_jsonschema_check'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jsonschema_check(jsonb) IS
	'Problems with the JSON Schema itself: an array of {keyword_location, message}, empty when well-formed';

CREATE OR REPLACE FUNCTION activity_schema_problems(schema jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_activity_schema_problems'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION activity_schema_problems(jsonb) IS
	'Problems of every params and result schema of an activity schema document, as {span_type, schema, keyword_location, message}; NULL when all are well-formed';

------------------------------------------------------------------------------
-- Shared schema documents: JSON Schemas an account registers once under a URI
-- so that the span types of its schema versions can $ref them (glue:
-- src/validation/validation.c). Documents are part of the audit trail: registering under
-- a known URI adds a version, rows never change, and a schema version keeps
-- the document versions that were current when it was created, so what its
-- spans were validated with stays reproducible.
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION jsonschema_is_valid(schema jsonb, instance jsonb, documents jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prefactor_jsonschema_is_valid_documents'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jsonschema_is_valid(jsonb, jsonb, jsonb) IS
	'Whether the instance conforms to the JSON Schema, whose $refs may reach the documents given as {uri: schema}; raises invalid_parameter_value for a malformed schema or map';

CREATE OR REPLACE FUNCTION jsonschema_errors(schema jsonb, instance jsonb, documents jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_jsonschema_errors_documents'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jsonschema_errors(jsonb, jsonb, jsonb) IS
	'Why the instance does not conform to the JSON Schema, whose $refs may reach the documents given as {uri: schema}: an array of {instance_location, keyword_location, message}';

CREATE OR REPLACE FUNCTION activity_schema_problems(schema jsonb, documents jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_activity_schema_problems_documents'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION activity_schema_problems(jsonb, jsonb) IS
	'Problems of every params and result schema of an activity schema document whose $refs may reach the documents given as {uri: schema}; NULL when all are well-formed';

-- A new schema version is checked with, and pinned to, the account's current documents.
CREATE OR REPLACE FUNCTION schema_version_documents_check() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM prefactor.schema_documents d WHERE d.account_id = NEW.account_id) THEN
		NEW.problems := prefactor.activity_schema_problems(NEW.content,
			prefactor.schema_documents_map(NEW.account_id));
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION schema_version_documents_check() IS
	'BEFORE INSERT on activity_schema_versions: the problems are those with the account''s shared documents reachable';

CREATE OR REPLACE FUNCTION schema_version_documents_pin() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	INSERT INTO prefactor.schema_version_documents (account_id, schema_version_id, document_id)
	SELECT DISTINCT ON (d.uri) NEW.account_id, NEW.id, d.id
	  FROM prefactor.schema_documents d
	 WHERE d.account_id = NEW.account_id
	 ORDER BY d.uri, d.version DESC;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION schema_version_documents_pin() IS
	'AFTER INSERT on activity_schema_versions: pins the latest version of each of the account''s shared documents to the new schema version';

------------------------------------------------------------------------------
-- Schema versions and span types: the audit trail, never changed once stored
------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS activity_schema_versions (
	account_id			pfid NOT NULL,
	id					pfid NOT NULL,
	agent_id			pfid NOT NULL,
	number				int NOT NULL CHECK (number > 0),
	external_identifier	text,
	content				jsonb NOT NULL,
	content_digest		bytea NOT NULL,
	problems			jsonb,
	created_at			timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, agent_id, id),
	UNIQUE (account_id, agent_id, number),
	UNIQUE (account_id, agent_id, content_digest),
	FOREIGN KEY (account_id, agent_id) REFERENCES agents,
	CONSTRAINT activity_schema_versions_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE activity_schema_versions IS
	'Per agent, numbered by arrival and keyed by canonical content; never changes once stored';
COMMENT ON COLUMN activity_schema_versions.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN activity_schema_versions.id IS 'Id: a pfid in its account''s partition';
COMMENT ON COLUMN activity_schema_versions.agent_id IS 'The agent whose runs report this schema';
COMMENT ON COLUMN activity_schema_versions.number IS 'Its number among the agent''s schema versions: 1, 2, ...';
COMMENT ON COLUMN activity_schema_versions.external_identifier IS 'The identifier the client gave the schema, if any';
COMMENT ON COLUMN activity_schema_versions.content IS 'The activity schema document as the client sent it';
COMMENT ON COLUMN activity_schema_versions.content_digest IS 'SHA-256 of the canonical document: equal content is one schema version';
COMMENT ON COLUMN activity_schema_versions.problems IS
	'Problems of the schema version''s JSON Schemas (from activity_schema_problems); NULL when well-formed. Spans of an affected type are flagged schema_invalid.';
COMMENT ON COLUMN activity_schema_versions.created_at IS 'When the row was created';
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON activity_schema_versions FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE OR REPLACE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON activity_schema_versions FOR EACH ROW EXECUTE FUNCTION audit_guard();
CREATE OR REPLACE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON activity_schema_versions FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
CREATE OR REPLACE TRIGGER schema_documents_check BEFORE INSERT ON activity_schema_versions
	FOR EACH ROW EXECUTE FUNCTION schema_version_documents_check();
CREATE OR REPLACE TRIGGER schema_documents_pin AFTER INSERT ON activity_schema_versions
	FOR EACH ROW EXECUTE FUNCTION schema_version_documents_pin();
SELECT pg_catalog.pg_extension_config_dump('activity_schema_versions', '');
-- the ingest role's run starts create schema versions and span types
SELECT prefactor.secure_table('activity_schema_versions', '{INSERT}', '{}');

CREATE TABLE IF NOT EXISTS span_types (
	account_id			pfid NOT NULL,
	id					pfid NOT NULL,
	schema_version_id	pfid NOT NULL,
	name				text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	params_schema		jsonb,
	result_schema		jsonb,
	description			text,
	template			text,
	result_template		text,
	data_risk			jsonb,
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, schema_version_id, name),
	FOREIGN KEY (account_id, schema_version_id) REFERENCES activity_schema_versions,
	CONSTRAINT span_types_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE span_types IS
	'Span types declared by a schema version: payload (params) and result JSON Schemas and declared data risk';
COMMENT ON COLUMN span_types.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN span_types.id IS 'Id: a pfid in its account''s partition';
COMMENT ON COLUMN span_types.schema_version_id IS 'The schema version that declares it';
COMMENT ON COLUMN span_types.name IS 'The span type''s name (1 to 200 characters), unique in its schema version';
COMMENT ON COLUMN span_types.params_schema IS 'JSON Schema of the payload; NULL: any';
COMMENT ON COLUMN span_types.result_schema IS 'JSON Schema of the result; NULL: any';
COMMENT ON COLUMN span_types.description IS 'Free text describing it';
COMMENT ON COLUMN span_types.template IS 'Display template of the payload, as the client declared it';
COMMENT ON COLUMN span_types.result_template IS 'Display template of the result, as the client declared it';
COMMENT ON COLUMN span_types.data_risk IS 'What the span type declares of data categories, classification and actions (risk scoring)';
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON span_types FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE OR REPLACE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON span_types FOR EACH ROW EXECUTE FUNCTION audit_guard();
CREATE OR REPLACE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON span_types FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
SELECT pg_catalog.pg_extension_config_dump('span_types', '');
SELECT prefactor.secure_table('span_types', '{INSERT}', '{}');

------------------------------------------------------------------------------
-- The shared documents, and the versions of them each schema version uses
------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS schema_documents (
	account_id		pfid NOT NULL REFERENCES accounts,
	id				pfid NOT NULL,
	uri				text NOT NULL CHECK (uri ~ '^[A-Za-z][A-Za-z0-9+.-]*:[^#[:space:]]+$' AND length(uri) <= 2000),
	version			int NOT NULL CHECK (version > 0),
	schema			jsonb NOT NULL CHECK (jsonb_typeof(schema) IN ('object', 'boolean')),
	content_digest	bytea NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, uri, version),
	CONSTRAINT schema_documents_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE schema_documents IS
	'JSON Schema documents an account registered by URI for its span types to $ref; each registration of new content under a URI is a new version; rows never change';
COMMENT ON COLUMN schema_documents.account_id IS 'The account that registered the document';
COMMENT ON COLUMN schema_documents.id IS 'This version of the document (a pfid in the account''s partition)';
COMMENT ON COLUMN schema_documents.uri IS 'Absolute URI (no fragment) by which schemas $ref the document';
COMMENT ON COLUMN schema_documents.version IS 'Version under this URI, numbered by arrival from 1';
COMMENT ON COLUMN schema_documents.schema IS 'The JSON Schema document';
COMMENT ON COLUMN schema_documents.content_digest IS 'SHA-256 of the canonical text: registering the latest content again adds no version';
COMMENT ON COLUMN schema_documents.created_at IS 'When this version was registered';
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON schema_documents FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE OR REPLACE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON schema_documents FOR EACH ROW EXECUTE FUNCTION audit_guard();
CREATE OR REPLACE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON schema_documents FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
SELECT pg_catalog.pg_extension_config_dump('schema_documents', '');
SELECT prefactor.secure_table('schema_documents', '{}', '{INSERT,UPDATE,DELETE}');

CREATE TABLE IF NOT EXISTS schema_version_documents (
	account_id			pfid NOT NULL,
	schema_version_id	pfid NOT NULL,
	document_id			pfid NOT NULL,
	PRIMARY KEY (account_id, schema_version_id, document_id),
	FOREIGN KEY (account_id, schema_version_id) REFERENCES activity_schema_versions,
	FOREIGN KEY (account_id, document_id) REFERENCES schema_documents
);
COMMENT ON TABLE schema_version_documents IS
	'The shared document versions a schema version validates with: the latest of each URI when the schema version was created; rows never change';
COMMENT ON COLUMN schema_version_documents.account_id IS 'The account of the schema version and the document';
COMMENT ON COLUMN schema_version_documents.schema_version_id IS 'The schema version (activity_schema_versions) whose span types use the document';
COMMENT ON COLUMN schema_version_documents.document_id IS 'The schema_documents row (one version of one URI)';
CREATE OR REPLACE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON schema_version_documents FOR EACH ROW EXECUTE FUNCTION audit_guard();
CREATE OR REPLACE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON schema_version_documents FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
SELECT pg_catalog.pg_extension_config_dump('schema_version_documents', '');
SELECT prefactor.secure_table('schema_version_documents', '{}', '{INSERT,UPDATE,DELETE}');

-- The account's current documents as {uri: schema} (the latest version of each URI).
CREATE OR REPLACE FUNCTION schema_documents_map(account pfid) RETURNS jsonb
	LANGUAGE sql STABLE
AS $$
	SELECT coalesce(jsonb_object_agg(d.uri, d.schema), '{}')
	  FROM (SELECT DISTINCT ON (s.uri) s.uri, s.schema FROM prefactor.schema_documents s
			 WHERE s.account_id = account ORDER BY s.uri, s.version DESC) d
$$;
COMMENT ON FUNCTION schema_documents_map(pfid) IS
	'The latest version of each shared schema document of the account, as {uri: schema}';

-- Checks the shape of an activity schema document; raises invalid_parameter_value.
CREATE OR REPLACE FUNCTION check_schema_document(schema jsonb) RETURNS void
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

-- The agent's schema version for this content, created (numbered by arrival) if
-- unseen. The run start (create_instance, src/api/run_api.c) looks the content
-- up first and calls this when it found none: it checks the document, then
-- looks again under the agent's lock, so two first runs make one version.
CREATE OR REPLACE FUNCTION ensure_schema_version(account pfid, agent pfid, schema jsonb) RETURNS pfid
	LANGUAGE plpgsql
AS $$
DECLARE
	digest bytea := prefactor.canonical_digest(schema);
	found_id prefactor.pfid;
BEGIN
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

CREATE OR REPLACE FUNCTION prefactor_register_schema_document(account text, uri text, schema jsonb) RETURNS pfid
	LANGUAGE plpgsql
AS $$
<<prefactor_register_schema_document>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
	digest bytea;
	latest record;
	problems jsonb;
	new_id prefactor.pfid;
BEGIN
	IF uri IS NULL OR uri !~ '^[A-Za-z][A-Za-z0-9+.-]*:[^#[:space:]]+#?$' OR length(uri) > 2000 THEN
		RAISE EXCEPTION 'a schema document needs an absolute URI without a fragment'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('Got %s.', coalesce(prefactor.excerpt(uri), 'NULL')),
				  HINT = 'Use the URI that the schemas'' $ref names, e.g. https://example.com/schemas/address.json.';
	END IF;
	uri := rtrim(uri, '#');
	IF schema IS NULL OR jsonb_typeof(schema) NOT IN ('object', 'boolean') THEN
		RAISE EXCEPTION 'a schema document must be a JSON Schema (an object or a boolean)'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('Got %s.', coalesce(prefactor.excerpt(schema::text), 'NULL')),
				  HINT = 'Pass the schema as jsonb, e.g. {"type": "object", ...}.';
	END IF;
	problems := prefactor.jsonschema_check(schema);
	IF jsonb_array_length(problems) > 0 THEN
		RAISE EXCEPTION 'the schema document is malformed'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('%s problem(s); first: %s', jsonb_array_length(problems),
								  prefactor.excerpt(problems->0->>'keyword_location' || ': ' || (problems->0->>'message'))),
				  HINT = 'prefactor.jsonschema_check(schema) lists every problem.';
	END IF;
	digest := prefactor.canonical_digest(schema);
	-- Serialise registration per account; a concurrent registrar's row is visible once we hold the lock.
	PERFORM 1 FROM prefactor.accounts a WHERE a.account_id = prefactor_register_schema_document.account_id FOR NO KEY UPDATE;
	SELECT d.id, d.version, d.content_digest INTO latest FROM prefactor.schema_documents d
	 WHERE d.account_id = prefactor_register_schema_document.account_id AND d.uri = prefactor_register_schema_document.uri
	 ORDER BY d.version DESC LIMIT 1;
	IF latest.id IS NOT NULL AND latest.content_digest = digest THEN
		RETURN latest.id;
	END IF;
	INSERT INTO prefactor.schema_documents (account_id, uri, version, schema, content_digest)
	VALUES (account_id, uri, coalesce(latest.version, 0) + 1, schema, digest)
	RETURNING id INTO new_id;
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION prefactor_register_schema_document(text, text, jsonb) IS
	'Registers a JSON Schema document under a URI in the account (by id or name) for span types to $ref; new content under a known URI is a new version, used by schema versions created from then on; returns the document version''s id';
