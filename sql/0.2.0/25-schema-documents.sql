------------------------------------------------------------------------------
-- Shared schema documents: JSON Schemas an account registers once under a URI
-- so that the span types of its schema versions can $ref them (glue:
-- src/validation/validation.c). Documents are part of the audit trail: registering under
-- a known URI adds a version, rows never change, and a schema version keeps
-- the document versions that were current when it was created, so what its
-- spans were validated with stays reproducible.
------------------------------------------------------------------------------
CREATE TABLE schema_documents (
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
COMMENT ON COLUMN schema_documents.created_at IS 'When this version was registered';
COMMENT ON COLUMN schema_documents.uri IS 'Absolute URI (no fragment) by which schemas $ref the document';
COMMENT ON COLUMN schema_documents.version IS 'Version under this URI, numbered by arrival from 1';
COMMENT ON COLUMN schema_documents.schema IS 'The JSON Schema document';
COMMENT ON COLUMN schema_documents.content_digest IS 'SHA-256 of the canonical text: registering the latest content again adds no version';
SELECT pg_catalog.pg_extension_config_dump('schema_documents', '');
CREATE TRIGGER assign_id BEFORE INSERT ON schema_documents FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON schema_documents FOR EACH ROW EXECUTE FUNCTION audit_guard();
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON schema_documents FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();

CREATE TABLE schema_version_documents (
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
SELECT pg_catalog.pg_extension_config_dump('schema_version_documents', '');
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON schema_version_documents FOR EACH ROW EXECUTE FUNCTION audit_guard();
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON schema_version_documents FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();

-- The account's current documents as {uri: schema} (the latest version of each URI).
CREATE FUNCTION schema_documents_map(account pfid) RETURNS jsonb
	LANGUAGE sql STABLE
AS $$
	SELECT coalesce(jsonb_object_agg(d.uri, d.schema), '{}')
	  FROM (SELECT DISTINCT ON (s.uri) s.uri, s.schema FROM prefactor.schema_documents s
			 WHERE s.account_id = account ORDER BY s.uri, s.version DESC) d
$$;
COMMENT ON FUNCTION schema_documents_map(pfid) IS
	'The latest version of each shared schema document of the account, as {uri: schema}';

CREATE FUNCTION jsonschema_is_valid(schema jsonb, instance jsonb, documents jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prefactor_jsonschema_is_valid_documents'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jsonschema_is_valid(jsonb, jsonb, jsonb) IS
	'Whether the instance conforms to the JSON Schema, whose $refs may reach the documents given as {uri: schema}; raises invalid_parameter_value for a malformed schema or map';

CREATE FUNCTION jsonschema_errors(schema jsonb, instance jsonb, documents jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_jsonschema_errors_documents'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jsonschema_errors(jsonb, jsonb, jsonb) IS
	'Why the instance does not conform to the JSON Schema, whose $refs may reach the documents given as {uri: schema}: an array of {instance_location, keyword_location, message}';

CREATE FUNCTION activity_schema_problems(schema jsonb, documents jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_activity_schema_problems_documents'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION activity_schema_problems(jsonb, jsonb) IS
	'Problems of every params and result schema of an activity schema document whose $refs may reach the documents given as {uri: schema}; NULL when all are well-formed';

-- A new schema version is checked with, and pinned to, the account's current documents.
CREATE FUNCTION schema_version_documents_check() RETURNS trigger
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

CREATE FUNCTION schema_version_documents_pin() RETURNS trigger
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

CREATE TRIGGER schema_documents_check BEFORE INSERT ON activity_schema_versions
	FOR EACH ROW EXECUTE FUNCTION schema_version_documents_check();
CREATE TRIGGER schema_documents_pin AFTER INSERT ON activity_schema_versions
	FOR EACH ROW EXECUTE FUNCTION schema_version_documents_pin();

CREATE FUNCTION prefactor_register_schema_document(account text, uri text, schema jsonb) RETURNS pfid
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
