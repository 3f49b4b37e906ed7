------------------------------------------------------------------------------
-- Agent versions: one per combination of version metadata and schema version
-- an agent's runs report, created on first sight (part of the audit trail).
------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS agent_versions (
	account_id			pfid NOT NULL,
	id					pfid NOT NULL,
	agent_id			pfid NOT NULL,
	schema_version_id	pfid NOT NULL,
	external_identifier	text,
	name				text,
	description			text,
	metadata			jsonb NOT NULL,
	metadata_digest		bytea NOT NULL,
	created_at			timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, agent_id, id),
	UNIQUE (account_id, agent_id, metadata_digest, schema_version_id),
	FOREIGN KEY (account_id, agent_id) REFERENCES agents,
	FOREIGN KEY (account_id, agent_id, schema_version_id)
		REFERENCES activity_schema_versions (account_id, agent_id, id),
	CONSTRAINT agent_versions_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE agent_versions IS
	'One per combination of version metadata and schema version an agent reported; never changes';
COMMENT ON COLUMN agent_versions.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN agent_versions.id IS 'Id: a pfid in its account''s partition';
COMMENT ON COLUMN agent_versions.agent_id IS 'The agent';
COMMENT ON COLUMN agent_versions.schema_version_id IS 'The activity schema version this version reported';
COMMENT ON COLUMN agent_versions.external_identifier IS 'The version''s identifier as the client reports it (a semver tag, a commit SHA, ...)';
COMMENT ON COLUMN agent_versions.name IS 'Display name (the external identifier when none was sent)';
COMMENT ON COLUMN agent_versions.description IS 'Free text describing it';
COMMENT ON COLUMN agent_versions.metadata IS 'The version document as the client sent it';
COMMENT ON COLUMN agent_versions.metadata_digest IS 'SHA-256 of the canonical metadata: equal metadata and schema version is one version';
COMMENT ON COLUMN agent_versions.created_at IS 'When the row was created';
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON agent_versions FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE OR REPLACE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON agent_versions FOR EACH ROW EXECUTE FUNCTION audit_guard();
CREATE OR REPLACE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON agent_versions FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
SELECT pg_catalog.pg_extension_config_dump('agent_versions', '');
-- the ingest role's run starts create versions
SELECT prefactor.secure_table('agent_versions', '{INSERT}', '{}');

-- Checks the shape of a version document; raises invalid_parameter_value.
CREATE OR REPLACE FUNCTION check_version_document(version jsonb) RETURNS void
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

-- The agent's version for this metadata and schema version, created if unseen.
-- The run start (create_instance, src/api/run_api.c) looks it up first and
-- calls this when it found none: it checks the document, then looks again
-- under the agent's lock, so two first runs make one version.
CREATE OR REPLACE FUNCTION ensure_version(account pfid, agent pfid, version jsonb, schema_version pfid) RETURNS pfid
	LANGUAGE plpgsql
AS $$
DECLARE
	digest bytea := prefactor.canonical_digest(version);
	found_id prefactor.pfid;
BEGIN
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
