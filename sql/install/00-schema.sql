------------------------------------------------------------------------------
-- The sources of prefactor's install script. The Makefile joins the files of
-- this folder in name order into the install script of the newest version,
-- and replays them after the hand-written steps of sql/upgrade/ to make the
-- upgrade script (see the Makefile): every statement here states what an
-- object is now and can run again on a database that has it (CREATE TYPE and
-- CREATE OPERATOR are replayed only where the object does not exist yet).
--
-- Each file holds a domain, in an order where every statement finds what it
-- uses. A table's comments, indexes, triggers, pg_dump registration (pg_dump
-- must keep the rows of every table) and row-level security (secure_table,
-- 03-access.sql) follow its CREATE TABLE.
------------------------------------------------------------------------------

-- The schema is created here (not by the control file) so that it is a member
-- of the extension and DROP EXTENSION removes it with everything else.
CREATE SCHEMA IF NOT EXISTS prefactor;
COMMENT ON SCHEMA prefactor IS 'prefactor: governance of AI-agent runs';
SET LOCAL search_path = prefactor, pg_catalog;

-- The group roles that carry the privileges (doc/security.md); levels nest:
-- admin includes ingest, ingest includes reader. Roles are cluster-wide and
-- never members of the extension: they are created once, reused by later
-- installs, and left behind by DROP EXTENSION.
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
