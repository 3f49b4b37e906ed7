------------------------------------------------------------------------------
-- The account boundary, enforced by the database (doc/security.md).
--
-- Three group roles carry the table privileges; which accounts a login role
-- reaches, and at which level, is recorded in account_members. Row-level
-- security (enabled and forced on every table, see 98-access.sql) limits each
-- role to the rows of its accounts at its level; the API functions run as the
-- extension owner (SECURITY DEFINER) and check the caller in resolve_account
-- and owning_account, through require_access below.
--
-- Levels nest: admin includes ingest, ingest includes reader.
------------------------------------------------------------------------------

-- Roles are cluster-wide and never members of the extension: they are created
-- once, reused by later installs, and left behind by DROP EXTENSION.
DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['prefactor_reader', 'prefactor_ingest', 'prefactor_admin'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
	-- admin includes ingest includes reader
	IF NOT pg_catalog.pg_has_role('prefactor_ingest', 'prefactor_reader', 'MEMBER') THEN
		GRANT prefactor_reader TO prefactor_ingest;
	END IF;
	IF NOT pg_catalog.pg_has_role('prefactor_admin', 'prefactor_ingest', 'MEMBER') THEN
		GRANT prefactor_ingest TO prefactor_admin;
	END IF;
END
$$;

------------------------------------------------------------------------------
-- Who is calling
------------------------------------------------------------------------------
CREATE FUNCTION calling_role() RETURNS name
	AS 'MODULE_PATHNAME', 'prefactor_calling_role' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION calling_role() IS
	'The role the session acts as outside any SECURITY DEFINER function (session user or SET ROLE): the caller the API checks';
CREATE FUNCTION random_bytes(n int) RETURNS bytea
	AS 'MODULE_PATHNAME', 'prefactor_random_bytes' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION random_bytes(int) IS 'n (1 .. 1024) bytes from pg_strong_random, for token secrets';
CREATE FUNCTION secure_equal(a bytea, b bytea) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prefactor_secure_equal' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION secure_equal(bytea, bytea) IS
	'Whether two byte strings are equal, in time that depends only on their lengths';

------------------------------------------------------------------------------
-- Membership
------------------------------------------------------------------------------
CREATE TABLE account_members (
	account_id	pfid NOT NULL REFERENCES accounts,
	role_name	name NOT NULL,
	level		text NOT NULL CHECK (level IN ('reader', 'ingest', 'admin')),
	granted_at	timestamptz NOT NULL DEFAULT now(),
	granted_by	name NOT NULL,
	PRIMARY KEY (account_id, role_name)
);
CREATE INDEX account_members_role ON account_members (role_name, level);
COMMENT ON TABLE account_members IS
	'Which login role reaches which account at which level (reader < ingest < admin); written by prefactor_grant_access and prefactor_revoke_access';
SELECT pg_catalog.pg_extension_config_dump('account_members', '');
-- Backends keep their access answers until memberships change: any write to
-- account_members invalidates them everywhere (src/access/account_access.c).
CREATE FUNCTION account_members_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_account_members_changed' LANGUAGE C;
COMMENT ON FUNCTION account_members_changed() IS
	'Trigger: a write to account_members makes every backend forget its cached access answers';
CREATE TRIGGER account_members_90_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON account_members
	FOR EACH STATEMENT EXECUTE FUNCTION account_members_changed();

-- The levels that include the given one (NULL for an unknown level).
CREATE FUNCTION access_levels(level text) RETURNS text[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN CASE WHEN level = 'reader' THEN ARRAY['reader', 'ingest', 'admin']
				WHEN level = 'ingest' THEN ARRAY['ingest', 'admin']
				WHEN level = 'admin' THEN ARRAY['admin'] END;
COMMENT ON FUNCTION access_levels(text) IS
	'The levels that include the given one: reader -> {reader, ingest, admin}, ingest -> {ingest, admin}, admin -> {admin}';

-- Used by every policy. Runs as the querying role (current_user), whose only
-- visible account_members rows are its own. C: in a sequential scan a policy
-- asks for every row, and the C version answers from the query's own cache
-- after the first lookup (src/access/account_access.c); its SQL is schema-qualified, so no
-- caller's search_path can change what it means.
CREATE FUNCTION member_accounts(level text) RETURNS pfid[]
	AS 'MODULE_PATHNAME', 'prefactor_member_accounts' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION member_accounts(text) IS
	'The accounts current_user belongs to at the given level or above; what every row-level security policy asks';

-- Used by the API functions, which run as the extension owner: asks about
-- calling_role(). C over a saved plan, since every API call asks; the levels
-- come from access_levels, as in the policies.
CREATE FUNCTION has_access(account pfid, level text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prefactor_has_access_sql' LANGUAGE C STABLE;
COMMENT ON FUNCTION has_access(pfid, text) IS
	'Whether the calling role is a superuser or a member of the account at the level or above (false for a NULL account); invalid_parameter_value for an unknown level';

CREATE FUNCTION require_access(account pfid, level text, subject text) RETURNS void
	AS 'MODULE_PATHNAME', 'prefactor_require_access_sql' LANGUAGE C STABLE;
COMMENT ON FUNCTION require_access(pfid, text, text) IS
	'Raises insufficient_privilege unless the calling role has the level in the account; called by resolve_account and owning_account';

-- Keeps a role's prefactor group exactly the one of its highest level anywhere.
CREATE FUNCTION sync_group_roles(grantee name) RETURNS void
	LANGUAGE plpgsql
AS $$
DECLARE
	top text;
	g text;
	is_member boolean;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = grantee) THEN
		RETURN;
	END IF;
	SELECT m.level INTO top FROM prefactor.account_members m WHERE m.role_name = grantee
	 ORDER BY array_position(ARRAY['reader', 'ingest', 'admin'], m.level) DESC LIMIT 1;
	FOREACH g IN ARRAY ARRAY['prefactor_reader', 'prefactor_ingest', 'prefactor_admin'] LOOP
		SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members am
						 JOIN pg_catalog.pg_roles gr ON gr.oid = am.roleid
						 JOIN pg_catalog.pg_roles mr ON mr.oid = am.member
						WHERE gr.rolname = g AND mr.rolname = grantee)
		  INTO is_member;
		IF g = 'prefactor_' || top AND NOT is_member THEN
			EXECUTE format('GRANT %I TO %I', g, grantee);
		ELSIF g IS DISTINCT FROM 'prefactor_' || top AND is_member THEN
			EXECUTE format('REVOKE %I FROM %I', g, grantee);
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION sync_group_roles(name) IS
	'Makes the role a direct member of exactly the prefactor group of its highest level in any account (none without memberships)';

CREATE FUNCTION prefactor_grant_access(account text, grantee name, level text) RETURNS void
	LANGUAGE plpgsql
AS $$
<<prefactor_grant_access>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
	target record;
BEGIN
	IF level IS NULL THEN
		RAISE EXCEPTION 'access level must not be null' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Send reader, ingest or admin.';
	END IF;
	IF level NOT IN ('reader', 'ingest', 'admin') THEN
		RAISE EXCEPTION 'access level must be reader, ingest or admin, not %', prefactor.excerpt(level)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF grantee IS NULL THEN
		RAISE EXCEPTION 'grantee must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT r.rolname, r.rolcanlogin INTO target FROM pg_catalog.pg_roles r WHERE r.rolname = grantee;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'role "%" does not exist', prefactor.excerpt(grantee) USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT target.rolcanlogin OR grantee IN ('prefactor_reader', 'prefactor_ingest', 'prefactor_admin') THEN
		RAISE EXCEPTION 'role "%" cannot log in; access is granted to login roles', grantee
			USING ERRCODE = 'invalid_grant_operation',
				  HINT = 'Membership is not inherited: grant each login role that needs the account.';
	END IF;
	INSERT INTO prefactor.account_members AS m (account_id, role_name, level, granted_by)
	VALUES (account_id, grantee, level, prefactor.calling_role())
	ON CONFLICT ON CONSTRAINT account_members_pkey
	DO UPDATE SET level = excluded.level, granted_at = excluded.granted_at, granted_by = excluded.granted_by;
	PERFORM prefactor.sync_group_roles(grantee);
	-- A BI tool or backend that joins views on ids or filters by id needs the
	-- pfid operators, which live in schema prefactor: a member's connections
	-- to this database get prefactor on their search_path, unless the role
	-- already has a search_path of its own (then it is the DBA's to set).
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting s
					 JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
					WHERE r.rolname = grantee
					  AND s.setdatabase IN (0, (SELECT d.oid FROM pg_catalog.pg_database d
												 WHERE d.datname = pg_catalog.current_database()))
					  AND EXISTS (SELECT 1 FROM unnest(s.setconfig) c WHERE c LIKE 'search_path=%')) THEN
		EXECUTE format('ALTER ROLE %I IN DATABASE %I SET search_path = "$user", public, prefactor',
					   grantee, pg_catalog.current_database());
	END IF;
END prefactor_grant_access
$$;
COMMENT ON FUNCTION prefactor_grant_access(text, name, text) IS
	'Admin: gives a login role reader, ingest or admin access to the account (replacing its previous level there); a role without a search_path of its own gets "$user", public, prefactor in this database';

CREATE FUNCTION prefactor_revoke_access(account text, grantee name) RETURNS boolean
	LANGUAGE plpgsql
AS $$
<<prefactor_revoke_access>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
BEGIN
	IF grantee IS NULL THEN
		RAISE EXCEPTION 'grantee must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	DELETE FROM prefactor.account_members m
	 WHERE m.account_id = prefactor_revoke_access.account_id AND m.role_name = grantee;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM prefactor.sync_group_roles(grantee);
	RETURN true;
END prefactor_revoke_access
$$;
COMMENT ON FUNCTION prefactor_revoke_access(text, name) IS
	'Admin: removes a role''s access to the account; false if it had none';

CREATE FUNCTION prefactor_list_members(account text)
	RETURNS TABLE (role_name name, level text, granted_at timestamptz, granted_by name)
	LANGUAGE plpgsql STABLE
AS $$
<<prefactor_list_members>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
BEGIN
	RETURN QUERY
	SELECT m.role_name, m.level, m.granted_at, m.granted_by FROM prefactor.account_members m
	 WHERE m.account_id = prefactor_list_members.account_id ORDER BY m.role_name;
END prefactor_list_members
$$;
COMMENT ON FUNCTION prefactor_list_members(text) IS 'Admin: the roles with access to the account and their levels';

------------------------------------------------------------------------------
-- Deployment-scoped ingest tokens. The secret is returned once; only its
-- SHA-256 is stored. A token reads "pft_<token id>_<64 hex digits>".
------------------------------------------------------------------------------
CREATE TABLE ingest_tokens (
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
CREATE TRIGGER assign_id BEFORE INSERT ON ingest_tokens FOR EACH ROW EXECUTE FUNCTION assign_id();
COMMENT ON TABLE ingest_tokens IS
	'Ingest tokens scoped to one agent and environment (a deployment); only the SHA-256 of each secret is kept';
COMMENT ON COLUMN ingest_tokens.secret_hash IS 'SHA-256 of the whole token text; the token itself is never stored';
COMMENT ON COLUMN ingest_tokens.last_used_at IS 'Last run start with the token (updated at most once a minute)';
SELECT pg_catalog.pg_extension_config_dump('ingest_tokens', '');

CREATE FUNCTION prefactor_create_ingest_token(account text, agent text, environment text,
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

CREATE FUNCTION prefactor_list_ingest_tokens(account text)
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
CREATE FUNCTION lock_ingest_token(token_id pfid, what text) RETURNS ingest_tokens
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

CREATE FUNCTION prefactor_revoke_ingest_token(token_id pfid) RETURNS boolean
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

CREATE FUNCTION prefactor_set_ingest_token_expiry(token_id pfid, expires_at timestamptz) RETURNS void
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

-- The row of a valid token; invalid_authorization_specification for any other text.
CREATE FUNCTION ingest_token_row(token text) RETURNS ingest_tokens
	LANGUAGE plpgsql STABLE
AS $$
DECLARE
	parts text[];
	token_id prefactor.pfid;
	row prefactor.ingest_tokens;
BEGIN
	IF token IS NULL THEN
		RAISE EXCEPTION 'token must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	parts := regexp_match(left(token, 200), '^pft_([0-7][0-9a-hjkmnp-tv-z]{31})_[0-9a-f]{64}$');
	IF parts IS NOT NULL AND length(token) = 101 THEN
		token_id := parts[1]::prefactor.pfid;
		-- the token is the caller's credential: its account is found from the
		-- partition directly (account_of answers only members of the account)
		SELECT t.* INTO row FROM prefactor.accounts a
		  JOIN prefactor.ingest_tokens t ON t.account_id = a.account_id
		 WHERE a.partition = prefactor.pfid_partition(token_id) AND t.id = token_id;
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
CREATE FUNCTION prefactor_start_run(token text, version jsonb, schema jsonb, options jsonb DEFAULT '{}')
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

------------------------------------------------------------------------------
-- Row-level security for one table. Policies name no roles (table privileges
-- decide who may try at all) and hold no subqueries (Citus): each asks
-- member_accounts(level) for the querying role.
------------------------------------------------------------------------------
CREATE FUNCTION secure_table(tab regclass, ingest_may text[], admin_may text[]) RETURNS void
	LANGUAGE plpgsql
AS $$
DECLARE
	pol record;
	cmd text;
	col text;
	has_account boolean;
BEGIN
	EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tab);
	EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tab);
	FOR pol IN SELECT p.polname FROM pg_catalog.pg_policy p WHERE p.polrelid = tab LOOP
		EXECUTE format('DROP POLICY %I ON %s', pol.polname, tab);
	END LOOP;
	EXECUTE format('REVOKE ALL ON %s FROM PUBLIC, prefactor_reader, prefactor_ingest, prefactor_admin', tab);
	SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = tab AND a.attname = 'account_id' AND NOT a.attisdropped)
	  INTO has_account;
	IF NOT has_account THEN
		-- shared reference data the extension ships (risk profile templates):
		-- every reader reads it, only superusers change it
		EXECUTE format('CREATE POLICY shared_read ON %s FOR SELECT USING (true)', tab);
		EXECUTE format('GRANT SELECT ON %s TO prefactor_reader', tab);
		RETURN;
	END IF;
	col := 'account_id';
	EXECUTE format('CREATE POLICY account_read ON %s FOR SELECT USING (%I = ANY (prefactor.member_accounts(%L)))',
				   tab, col, 'reader');
	EXECUTE format('GRANT SELECT ON %s TO prefactor_reader', tab);
	FOREACH cmd IN ARRAY ingest_may || admin_may LOOP
		IF cmd NOT IN ('INSERT', 'UPDATE', 'DELETE') THEN
			RAISE EXCEPTION 'secure_table: unknown command %', cmd USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
	FOREACH cmd IN ARRAY ingest_may LOOP
		EXECUTE format('CREATE POLICY %I ON %s FOR %s %s', 'account_ingest_' || lower(cmd), tab, cmd,
			CASE cmd WHEN 'INSERT' THEN format('WITH CHECK (%I = ANY (prefactor.member_accounts(%L)))', col, 'ingest')
					 WHEN 'UPDATE' THEN format('USING (%1$I = ANY (prefactor.member_accounts(%2$L))) WITH CHECK (%1$I = ANY (prefactor.member_accounts(%2$L)))', col, 'ingest')
					 ELSE format('USING (%I = ANY (prefactor.member_accounts(%L)))', col, 'ingest') END);
		EXECUTE format('GRANT %s ON %s TO prefactor_ingest', cmd, tab);
	END LOOP;
	FOREACH cmd IN ARRAY admin_may LOOP
		EXECUTE format('CREATE POLICY %I ON %s FOR %s %s', 'account_admin_' || lower(cmd), tab, cmd,
			CASE cmd WHEN 'INSERT' THEN format('WITH CHECK (%I = ANY (prefactor.member_accounts(%L)))', col, 'admin')
					 WHEN 'UPDATE' THEN format('USING (%1$I = ANY (prefactor.member_accounts(%2$L))) WITH CHECK (%1$I = ANY (prefactor.member_accounts(%2$L)))', col, 'admin')
					 ELSE format('USING (%I = ANY (prefactor.member_accounts(%L)))', col, 'admin') END);
		EXECUTE format('GRANT %s ON %s TO prefactor_admin', cmd, tab);
	END LOOP;
END
$$;
COMMENT ON FUNCTION secure_table(regclass, text[], text[]) IS
	'Enables and forces row-level security on a table and (re)creates its policies and grants: SELECT for readers of the account, the listed commands for its ingest members and admins';

-- The tables whose rules differ from the default (read for readers, write for
-- admins). Everything else is secured by 98-access.sql, after every feature file.
SELECT prefactor.secure_table('accounts', '{}', '{}');
SELECT prefactor.secure_table('instances', '{INSERT,UPDATE}', '{}');
SELECT prefactor.secure_table('spans', '{INSERT,UPDATE}', '{}');
SELECT prefactor.secure_table('idempotency_keys', '{INSERT,UPDATE}', '{}');
SELECT prefactor.secure_table('instance_quality', '{INSERT,UPDATE,DELETE}', '{}');
SELECT prefactor.secure_table('agent_versions', '{INSERT}', '{}');
SELECT prefactor.secure_table('activity_schema_versions', '{INSERT}', '{}');
SELECT prefactor.secure_table('span_types', '{INSERT}', '{}');
SELECT prefactor.secure_table('ingest_tokens', '{}', '{}');
-- tokens: admins read them (no secrets are stored); they change only through functions
DROP POLICY account_read ON ingest_tokens;
REVOKE SELECT ON ingest_tokens FROM prefactor_reader;
CREATE POLICY account_admin_read ON ingest_tokens FOR SELECT
	USING (account_id = ANY (prefactor.member_accounts('admin')));
GRANT SELECT ON ingest_tokens TO prefactor_admin;
-- memberships: each role sees its own; they change only through functions
SELECT prefactor.secure_table('account_members', '{}', '{}');
DROP POLICY account_read ON account_members;
CREATE POLICY own_memberships ON account_members FOR SELECT USING (role_name = current_user);
