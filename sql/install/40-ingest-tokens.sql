------------------------------------------------------------------------------
-- Deployment-scoped ingest tokens. The secret is returned once; only its
-- SHA-256 is stored. A token reads "pft_<token id>_<64 hex digits>".
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION random_bytes(n int) RETURNS bytea
	AS 'MODULE_PATHNAME', 'prefactor_random_bytes' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION random_bytes(int) IS 'n (1 .. 1024) bytes from pg_strong_random, for token secrets';
CREATE OR REPLACE FUNCTION secure_equal(a bytea, b bytea) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prefactor_secure_equal' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION secure_equal(bytea, bytea) IS
	'Whether two byte strings are equal, in time that depends only on their lengths';

CREATE TABLE IF NOT EXISTS ingest_tokens (
	account_id		pfid NOT NULL REFERENCES accounts,
	id				pfid NOT NULL,
	agent_id		pfid NOT NULL,
	environment_id	pfid NOT NULL,
	secret_hash		bytea NOT NULL CHECK (length(secret_hash) = 32),
	created_at		timestamptz NOT NULL DEFAULT now(),
	created_by		name NOT NULL,
	expires_at		timestamptz,
	revoked_at		timestamptz,
	revoked_by		name,
	last_used_at	timestamptz,
	PRIMARY KEY (account_id, id),
	FOREIGN KEY (account_id, agent_id) REFERENCES agents,
	FOREIGN KEY (account_id, environment_id) REFERENCES environments,
	CONSTRAINT ingest_tokens_revoked_by CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
	CONSTRAINT ingest_tokens_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE ingest_tokens IS
	'Ingest tokens scoped to one agent and environment (a deployment); only the SHA-256 of each secret is kept';
COMMENT ON COLUMN ingest_tokens.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN ingest_tokens.id IS 'Id: a pfid in its account''s partition';
COMMENT ON COLUMN ingest_tokens.agent_id IS 'The agent the token records runs for';
COMMENT ON COLUMN ingest_tokens.environment_id IS 'The environment it records runs in';
COMMENT ON COLUMN ingest_tokens.secret_hash IS 'SHA-256 of the whole token text; the token itself is never stored';
COMMENT ON COLUMN ingest_tokens.created_at IS 'When the row was created';
COMMENT ON COLUMN ingest_tokens.created_by IS 'The role that created it';
COMMENT ON COLUMN ingest_tokens.expires_at IS 'When it stops working; NULL: never';
COMMENT ON COLUMN ingest_tokens.revoked_at IS 'When it was revoked; NULL while valid';
COMMENT ON COLUMN ingest_tokens.revoked_by IS 'The role that revoked it';
COMMENT ON COLUMN ingest_tokens.last_used_at IS 'Last run start with the token (updated at most once a minute)';
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON ingest_tokens FOR EACH ROW EXECUTE FUNCTION assign_id();
SELECT pg_catalog.pg_extension_config_dump('ingest_tokens', '');
SELECT prefactor.secure_table('ingest_tokens', '{}', '{}');
-- tokens: admins read them (no secrets are stored); they change only through functions
DROP POLICY account_read ON ingest_tokens;
REVOKE SELECT ON ingest_tokens FROM prefactor_reader;
CREATE POLICY account_admin_read ON ingest_tokens FOR SELECT
	USING (account_id = ANY (prefactor.member_accounts('admin')));
GRANT SELECT ON ingest_tokens TO prefactor_admin;

CREATE OR REPLACE FUNCTION prefactor_create_ingest_token(account text, agent text, environment text,
											  expires_at timestamptz DEFAULT NULL)
	RETURNS text
	LANGUAGE plpgsql
AS $$
<<prefactor_create_ingest_token>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
	agent_id prefactor.pfid := prefactor.resolve_agent(account_id, agent);
	environment_id prefactor.pfid := prefactor.resolve_environment(account_id, environment);
	token_id prefactor.pfid := prefactor.pfid_generate(prefactor.pfid_partition(account_id));
	token text := 'pft_' || token_id::text || '_' || encode(prefactor.random_bytes(32), 'hex');
BEGIN
	IF expires_at <= now() THEN
		RAISE EXCEPTION 'expires_at % is not in the future', expires_at
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass NULL for a token that does not expire.';
	END IF;
	INSERT INTO prefactor.ingest_tokens (account_id, id, agent_id, environment_id, secret_hash, created_by, expires_at)
	VALUES (account_id, token_id, agent_id, environment_id, sha256(convert_to(token, 'UTF8')),
			prefactor.calling_role(), expires_at);
	RETURN token;
END prefactor_create_ingest_token
$$;
COMMENT ON FUNCTION prefactor_create_ingest_token(text, text, text, timestamptz) IS
	'Admin: creates an ingest token for the agent in the environment and returns it; it is shown this once and only its hash is kept';

CREATE OR REPLACE FUNCTION prefactor_list_ingest_tokens(account text)
	RETURNS TABLE (token_id pfid, agent text, environment text, status text, created_at timestamptz,
				   created_by name, expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz)
	LANGUAGE plpgsql STABLE
AS $$
<<prefactor_list_ingest_tokens>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
BEGIN
	RETURN QUERY
	SELECT t.id, g.name, e.name,
		   CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'
				WHEN t.expires_at <= now() THEN 'expired' ELSE 'active' END,
		   t.created_at, t.created_by, t.expires_at, t.revoked_at, t.last_used_at
	  FROM prefactor.ingest_tokens t
	  JOIN prefactor.agents g ON g.account_id = t.account_id AND g.id = t.agent_id
	  JOIN prefactor.environments e ON e.account_id = t.account_id AND e.id = t.environment_id
	 WHERE t.account_id = prefactor_list_ingest_tokens.account_id
	 ORDER BY t.created_at, t.id;
END prefactor_list_ingest_tokens
$$;
COMMENT ON FUNCTION prefactor_list_ingest_tokens(text) IS
	'Admin: the account''s ingest tokens with agent, environment and status (active, expired, revoked); never the secrets';

-- The token's row, locked against concurrent revocation, or the token is refused.
CREATE OR REPLACE FUNCTION lock_ingest_token(token_id pfid, what text) RETURNS ingest_tokens
	LANGUAGE plpgsql
AS $$
<<lock_ingest_token>>
DECLARE
	account_id prefactor.pfid := prefactor.owning_account(token_id, 'ingest token', 'admin');
	row prefactor.ingest_tokens;
BEGIN
	SELECT * INTO row FROM prefactor.ingest_tokens t
	 WHERE t.account_id = lock_ingest_token.account_id AND t.id = token_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'ingest token % does not exist', token_id USING ERRCODE = 'no_data_found';
	END IF;
	IF row.revoked_at IS NOT NULL AND what IS NOT NULL THEN
		RAISE EXCEPTION 'ingest token % was revoked, so its % cannot change', token_id, what
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	RETURN row;
END lock_ingest_token
$$;
COMMENT ON FUNCTION lock_ingest_token(pfid, text) IS
	'Locks an ingest token row after checking admin access; refuses a revoked token when "what" names a change';

CREATE OR REPLACE FUNCTION prefactor_revoke_ingest_token(token_id pfid) RETURNS boolean
	LANGUAGE plpgsql
AS $$
DECLARE
	row prefactor.ingest_tokens := prefactor.lock_ingest_token(token_id, NULL);
BEGIN
	IF row.revoked_at IS NOT NULL THEN
		RETURN false;
	END IF;
	UPDATE prefactor.ingest_tokens t SET revoked_at = now(), revoked_by = prefactor.calling_role()
	 WHERE t.account_id = row.account_id AND t.id = row.id;
	RETURN true;
END
$$;
COMMENT ON FUNCTION prefactor_revoke_ingest_token(pfid) IS
	'Admin: revokes an ingest token for good; false if it was already revoked';

CREATE OR REPLACE FUNCTION prefactor_set_ingest_token_expiry(token_id pfid, expires_at timestamptz) RETURNS void
	LANGUAGE plpgsql
AS $$
DECLARE
	row prefactor.ingest_tokens := prefactor.lock_ingest_token(token_id, 'expiry');
BEGIN
	UPDATE prefactor.ingest_tokens t SET expires_at = prefactor_set_ingest_token_expiry.expires_at
	 WHERE t.account_id = row.account_id AND t.id = row.id;
END
$$;
COMMENT ON FUNCTION prefactor_set_ingest_token_expiry(pfid, timestamptz) IS
	'Admin: sets when an ingest token stops working (NULL: never; a past time ends it now)';

-- The id a token text carries (pft_<id>_<64 hex digits of secret>), or NULL.
CREATE OR REPLACE FUNCTION ingest_token_id(token text) RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_ingest_token_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ingest_token_id(text) IS
	'The id an ingest token text carries (pft_<pfid>_<64 lowercase hex digits>), or NULL when the text is not of that form';

-- A token's row by its account and id (src/api/account_query.c: on Citus,
-- read from the account's shard directly when it is on this node).
CREATE OR REPLACE FUNCTION ingest_token_by_id(account pfid, id pfid) RETURNS ingest_tokens
	AS 'MODULE_PATHNAME', 'prefactor_account_query' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ingest_token_by_id(pfid, pfid) IS 'The ingest token row of an account with this id, or NULL; not checked';

-- The row of a valid token; invalid_authorization_specification for any other text.
CREATE OR REPLACE FUNCTION ingest_token_row(token text) RETURNS ingest_tokens
	LANGUAGE plpgsql STABLE
AS $$
DECLARE
	token_id prefactor.pfid;
	account prefactor.pfid;
	row prefactor.ingest_tokens;
BEGIN
	IF token IS NULL THEN
		RAISE EXCEPTION 'token must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	token_id := prefactor.ingest_token_id(token);
	IF token_id IS NOT NULL THEN
		-- the token is the caller's credential: its account is found from the
		-- partition directly (account_of answers only members of the account),
		-- then the row by (account, id): one account's shard on Citus, where a
		-- join on the partition alone would read every shard
		account := prefactor.partition_account(token_id);
		row := prefactor.ingest_token_by_id(account, token_id);
	END IF;
	-- digests of equal length, compared in constant time
	IF row.id IS NULL
	   OR NOT prefactor.secure_equal(sha256(convert_to(token, 'UTF8')), row.secret_hash) THEN
		RAISE EXCEPTION 'invalid ingest token'
			USING ERRCODE = 'invalid_authorization_specification',
				  HINT = 'An admin of the account creates one with prefactor.prefactor_create_ingest_token().';
	END IF;
	IF row.revoked_at IS NOT NULL THEN
		RAISE EXCEPTION 'ingest token % was revoked', row.id
			USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	IF row.expires_at <= now() THEN
		RAISE EXCEPTION 'ingest token % has expired', row.id
			USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	RETURN row;
END
$$;
COMMENT ON FUNCTION ingest_token_row(text) IS
	'The ingest token row a token text names if it is valid; invalid_authorization_specification if unknown, wrong, revoked or expired';

-- Three or four arguments, so no positional call of the eight-argument
-- prefactor_start_run (five to eight arguments) can be mistaken for this one,
-- however untyped its literals: the options travel in one JSON object.
CREATE OR REPLACE FUNCTION prefactor_start_run(token text, version jsonb, schema jsonb, options jsonb DEFAULT '{}')
	RETURNS pfid
	LANGUAGE plpgsql
AS $$
DECLARE
	t prefactor.ingest_tokens := prefactor.ingest_token_row(token);
	opts jsonb := coalesce(options, '{}');
	unknown_keys text;
	new_id prefactor.pfid;
BEGIN
	IF jsonb_typeof(opts) <> 'object' THEN
		RAISE EXCEPTION 'options must be a JSON object, not %', jsonb_typeof(opts)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Send {"purpose": "live", "idempotency_key": "...", "started_at": "2025-01-01T00:00:00Z"}.';
	END IF;
	SELECT string_agg(k, ', ' ORDER BY k) INTO unknown_keys FROM jsonb_object_keys(opts) k
	 WHERE k NOT IN ('purpose', 'idempotency_key', 'started_at');
	IF unknown_keys IS NOT NULL OR jsonb_typeof(opts->'purpose') NOT IN ('string', 'null')
	   OR jsonb_typeof(opts->'idempotency_key') NOT IN ('string', 'null')
	   OR jsonb_typeof(opts->'started_at') NOT IN ('string', 'null') THEN
		RAISE EXCEPTION 'options take the strings purpose, idempotency_key and started_at only'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('Got %s.', prefactor.excerpt(opts::text));
	END IF;
	-- create_instance checks that the caller has ingest access to the token's account
	new_id := prefactor.create_instance('start_run', t.account_id::text, t.agent_id::text, t.environment_id::text,
										version, schema, coalesce(opts->>'purpose', 'live'), opts->>'idempotency_key',
										(opts->>'started_at')::timestamptz);
	UPDATE prefactor.ingest_tokens k SET last_used_at = now()
	 WHERE k.account_id = t.account_id AND k.id = t.id
	   AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute');
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION prefactor_start_run(text, jsonb, jsonb, jsonb) IS
	'Starts a run of the agent in the environment an ingest token is scoped to; options: purpose (default live), idempotency_key, started_at. The caller needs ingest access to the token''s account. Returns the instance id.';
