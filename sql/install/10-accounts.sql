------------------------------------------------------------------------------
-- Accounts: the outer boundary. Every table carries account_id and every
-- reference is a composite (account_id, id) key, so no row can point across
-- accounts. Who reaches which account is recorded in account_members.
------------------------------------------------------------------------------

-- Each account owns one pfid partition, and every id of its rows carries it.
CREATE SEQUENCE IF NOT EXISTS account_partition_seq AS int MINVALUE 0 MAXVALUE 1073741823 START 1 NO CYCLE;
SELECT pg_catalog.pg_extension_config_dump('account_partition_seq', '');

-- Names are not blank (0.1.0 refused only the empty string): plain INSERTs
-- obey what prefactor.check_name() tells API callers. The same rule holds for
-- environments, agents and risk profiles. (An upgraded database has these
-- constraints NOT VALID: it keeps a blank name it already had.)
CREATE TABLE IF NOT EXISTS accounts (
	account_id	pfid PRIMARY KEY,
	partition	int NOT NULL UNIQUE,
	name		text NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 200),
	created_at	timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT accounts_id_partition CHECK (pfid_partition(account_id) = partition),
	CONSTRAINT accounts_name_not_blank CHECK (btrim(name) <> '')
);
COMMENT ON TABLE accounts IS 'The outer boundary: every other row belongs to exactly one account';
COMMENT ON COLUMN accounts.account_id IS 'The account''s id: a pfid in its own partition';
COMMENT ON COLUMN accounts.partition IS 'The pfid partition of every id in the account';
COMMENT ON COLUMN accounts.name IS 'Unique name of the account (1 to 200 characters, not blank)';
COMMENT ON COLUMN accounts.created_at IS 'When the row was created';
SELECT pg_catalog.pg_extension_config_dump('accounts', '');
-- members read their accounts; accounts are made by superusers (prefactor_create_account)
SELECT prefactor.secure_table('accounts', '{}', '{}');

CREATE TABLE IF NOT EXISTS account_members (
	account_id	pfid NOT NULL REFERENCES accounts,
	role_name	name NOT NULL,
	level		text NOT NULL CHECK (level IN ('reader', 'ingest', 'admin')),
	granted_at	timestamptz NOT NULL DEFAULT now(),
	granted_by	name NOT NULL,
	PRIMARY KEY (account_id, role_name)
);
COMMENT ON TABLE account_members IS
	'Which login role reaches which account at which level (reader < ingest < admin); written by prefactor_grant_access and prefactor_revoke_access';
COMMENT ON COLUMN account_members.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN account_members.role_name IS 'The login role given access (by name: revoke before DROP ROLE)';
COMMENT ON COLUMN account_members.level IS 'reader, ingest or admin (each includes the ones before)';
COMMENT ON COLUMN account_members.granted_at IS 'When the access was granted or last changed';
COMMENT ON COLUMN account_members.granted_by IS 'The role that granted it';
CREATE INDEX IF NOT EXISTS account_members_role ON account_members (role_name, level);
SELECT pg_catalog.pg_extension_config_dump('account_members', '');

-- Backends keep their access answers until memberships change: any write to
-- account_members invalidates them everywhere (src/access/account_access.c).
CREATE OR REPLACE FUNCTION account_members_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_account_members_changed' LANGUAGE C;
COMMENT ON FUNCTION account_members_changed() IS
	'Trigger: a write to account_members makes every backend forget its cached access answers';
CREATE OR REPLACE TRIGGER account_members_90_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON account_members
	FOR EACH STATEMENT EXECUTE FUNCTION account_members_changed();
-- memberships: each role sees its own; they change only through functions
SELECT prefactor.secure_table('account_members', '{}', '{}');
DROP POLICY account_read ON account_members;
CREATE POLICY own_memberships ON account_members FOR SELECT USING (role_name = current_user);

-- The account a pfid belongs to, found through its partition.
-- (C, from the backend's partition cache: asked by every call naming a run or span.)
CREATE OR REPLACE FUNCTION account_of(id pfid) RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_account_of' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION account_of(pfid) IS 'The account whose partition the id carries; NULL if none or if the calling role may not read that account';
-- The same for a caller that proved its right otherwise: an ingest token's
-- check (ingest_token_row) finds the token's account from its id.
CREATE OR REPLACE FUNCTION partition_account(id pfid) RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_partition_account' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION partition_account(pfid) IS
	'The account whose partition the id carries, or NULL, with no access check: for the ingest token check only (granted to no role)';

-- Every API function learns its account here or in owning_account, so these two
-- are where the caller's access is checked (prefactor.require_access, in
-- 03-access.sql). To a caller without access an unknown account and another
-- account's look the same: insufficient_privilege.
-- C (src/access/resolve.c): the run start resolves its account there too.
CREATE OR REPLACE FUNCTION resolve_account(account text, level text DEFAULT 'admin') RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_resolve_account_sql' LANGUAGE C STABLE;
COMMENT ON FUNCTION resolve_account(text, text) IS
	'The id of the account named by id or name, if the caller has the access level there; insufficient_privilege if not, no_data_found if none';

-- The account of an instance or span id; no_data_found when no account owns its partition.
-- C (src/access/account_access.c): the one implementation, which the C span calls share.
CREATE OR REPLACE FUNCTION owning_account(id pfid, what text, level text DEFAULT 'admin') RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_owning_account_sql' LANGUAGE C STABLE;
COMMENT ON FUNCTION owning_account(pfid, text, text) IS
	'The account whose partition the id carries, if the caller has the access level there; insufficient_privilege if not, no_data_found naming "what" if none';

CREATE OR REPLACE FUNCTION prefactor_create_account(name text) RETURNS pfid
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

-- Keeps a role's prefactor group exactly the one of its highest level anywhere.
CREATE OR REPLACE FUNCTION sync_group_roles(grantee name) RETURNS void
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

CREATE OR REPLACE FUNCTION prefactor_grant_access(account text, grantee name, level text) RETURNS void
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

CREATE OR REPLACE FUNCTION prefactor_revoke_access(account text, grantee name) RETURNS boolean
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

CREATE OR REPLACE FUNCTION prefactor_list_members(account text)
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
