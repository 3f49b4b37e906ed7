------------------------------------------------------------------------------
-- Helpers every domain uses: messages that quote a client's value, names and
-- ids as clients give them, canonical digests, id assignment and the audit
-- trail's guard.
------------------------------------------------------------------------------

-- What an error, notice or log line quotes of a value a client sent: the
-- value if short, else its first characters and its size (C: src/core/excerpt.c,
-- shared with the C functions' messages).
CREATE OR REPLACE FUNCTION excerpt(value text) RETURNS text
	AS 'MODULE_PATHNAME', 'prefactor_excerpt_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION excerpt(text) IS
	'What messages quote of a client''s value: the value itself up to 64 bytes, else its first 48 bytes and its size';

-- The pfid a text names, or NULL when it is not a well-formed pfid.
-- (C: every name-or-id argument asks it, and a SQL version is planned per call.)
CREATE OR REPLACE FUNCTION try_pfid(t text) RETURNS pfid
	AS 'MODULE_PATHNAME', 'pfid_try_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION try_pfid(text) IS 'The text as a pfid when it is one, otherwise NULL';

-- The one rule for a name a client gives (account, environment, agent, risk
-- profile, version identifier): present, not blank, at most 200 characters.
CREATE OR REPLACE FUNCTION check_name(what text, value text) RETURNS text
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
-- (C, src/access/resolve.c: the one message, shared with the C resolvers.)
CREATE OR REPLACE FUNCTION require_found(what text, value text, found_id pfid, hint text) RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_require_found_sql' LANGUAGE C IMMUTABLE;
COMMENT ON FUNCTION require_found(text, text, pfid, text) IS
	'The id found for a name or id; null_value_not_allowed or no_data_found (with the hint) otherwise';

-- SHA-256 of a document's canonical text, as UTF-8 (jsonb output is canonical:
-- key order and whitespace never make a new version). C: every run start asks twice.
CREATE OR REPLACE FUNCTION canonical_digest(doc jsonb) RETURNS bytea
	AS 'MODULE_PATHNAME', 'prefactor_canonical_digest' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION canonical_digest(jsonb) IS 'SHA-256 of the canonical JSON text of a document';

-- Every table with an id column: a row inserted without one gets a new pfid
-- in its account's partition.
CREATE OR REPLACE FUNCTION assign_id() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_assign_id' LANGUAGE C;
COMMENT ON FUNCTION assign_id() IS
	'BEFORE INSERT trigger: gives a row without id a new pfid in its account''s partition';

-- The audit trail never changes: versions, schema versions, span types and
-- schema documents refuse UPDATE, DELETE and TRUNCATE; runs and spans refuse
-- TRUNCATE (their rows leave only through prefactor_purge_runs).
CREATE OR REPLACE FUNCTION audit_guard() RETURNS trigger
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
