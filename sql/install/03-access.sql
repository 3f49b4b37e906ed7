------------------------------------------------------------------------------
-- The account boundary, enforced by the database (doc/security.md).
--
-- Three group roles (00-schema.sql) carry the table privileges; which
-- accounts a login role reaches, and at which level, is recorded in
-- account_members (10-accounts.sql). Row-level security, enabled and forced
-- on every table by secure_table below (each table's file calls it next to
-- its CREATE TABLE), limits each role to the rows of its accounts at its
-- level; the API functions run as the extension owner (SECURITY DEFINER,
-- 99-privileges.sql) and check the caller in resolve_account and
-- owning_account, through require_access below.
--
-- Levels nest: admin includes ingest, ingest includes reader.
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION calling_role() RETURNS name
	AS 'MODULE_PATHNAME', 'prefactor_calling_role' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION calling_role() IS
	'The role the session acts as outside any SECURITY DEFINER function (session user or SET ROLE): the caller the API checks';

-- The levels that include the given one (NULL for an unknown level).
CREATE OR REPLACE FUNCTION access_levels(level text) RETURNS text[]
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
CREATE OR REPLACE FUNCTION member_accounts(level text) RETURNS pfid[]
	AS 'MODULE_PATHNAME', 'prefactor_member_accounts' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION member_accounts(text) IS
	'The accounts current_user belongs to at the given level or above; what every row-level security policy asks';

-- Used by the API functions, which run as the extension owner: asks about
-- calling_role(). C over a saved plan, since every API call asks; the levels
-- come from access_levels, as in the policies.
CREATE OR REPLACE FUNCTION has_access(account pfid, level text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prefactor_has_access_sql' LANGUAGE C STABLE;
COMMENT ON FUNCTION has_access(pfid, text) IS
	'Whether the calling role is a superuser or a member of the account at the level or above (false for a NULL account); invalid_parameter_value for an unknown level';

CREATE OR REPLACE FUNCTION require_access(account pfid, level text, subject text) RETURNS void
	AS 'MODULE_PATHNAME', 'prefactor_require_access_sql' LANGUAGE C STABLE;
COMMENT ON FUNCTION require_access(pfid, text, text) IS
	'Raises insufficient_privilege unless the calling role has the level in the account; called by resolve_account and owning_account';

------------------------------------------------------------------------------
-- Row-level security for one table. Policies name no roles (table privileges
-- decide who may try at all) and hold no subqueries (Citus): each asks
-- member_accounts(level) for the querying role. Every table's file calls it
-- next to its CREATE TABLE; the usual call, for set-up data that readers read
-- and admins write, is secure_table(t, '{}', '{INSERT,UPDATE,DELETE}').
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION secure_table(tab regclass, ingest_may text[], admin_may text[]) RETURNS void
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
