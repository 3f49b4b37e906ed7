------------------------------------------------------------------------------
-- Privileges of everything the other files made (doc/security.md). This file
-- sorts after them, so a new view or function is covered by the defaults
-- below; the lists name the exceptions. Tables are secured next to their
-- CREATE TABLE (secure_table, 03-access.sql); a table that is not stops the
-- install here.
------------------------------------------------------------------------------
DO $$
DECLARE
	obj record;
	-- API functions an ingest member may call (the run API)
	ingest_api text[] := ARRAY['prefactor_start_run', 'prefactor_register_run', 'prefactor_begin_run',
		'prefactor_start_span', 'prefactor_record_span', 'prefactor_finish_span', 'prefactor_finish_run',
		'prefactor_terminate_run', 'prefactor_record_quality',
		'prefactor_sdk_register', 'prefactor_sdk_start', 'prefactor_sdk_finish', 'prefactor_sdk_create_span',
		'prefactor_sdk_finish_span', 'prefactor_sdk_call', 'prefactor_token_account', 'prefactor_otlp_export',
		'prefactor_account_node'];
	-- API functions an admin may call (on top of the run API)
	admin_api text[] := ARRAY['prefactor_create_environment', 'prefactor_register_agent', 'prefactor_deploy',
		'prefactor_purge_runs', 'prefactor_grant_access', 'prefactor_revoke_access', 'prefactor_list_members',
		'prefactor_create_ingest_token', 'prefactor_list_ingest_tokens', 'prefactor_revoke_ingest_token',
		'prefactor_set_ingest_token_expiry', 'prefactor_create_risk_profile', 'prefactor_update_risk_profile',
		'prefactor_delete_risk_profile', 'prefactor_assign_risk_profile', 'prefactor_register_schema_document'];
	-- API functions that stay with superusers and run as their caller
	superuser_api text[] := ARRAY['prefactor_create_account'];
	-- read-only API functions: they run as their caller, so row-level security applies
	reader_api text[] := ARRAY['prefactor_span_timeline', 'prefactor_risk_level'];
	-- functions readers need: the pfid type and what policies and views evaluate
	-- (on top of every IMMUTABLE function: those compute from their arguments
	-- alone and read no table, so any member may run what a view, policy or
	-- trigger it fires calls); the STABLE ones answer only about the caller's accounts
	-- (the risk aggregates' final functions: Citus calls them itself when it combines partial states)
	reader_helpers text[] := ARRAY['member_accounts', 'account_of', 'risk_type_points', 'run_risk_score',
		'risk_revision_band', 'risk_agg_score', 'risk_agg_breakdown'];
BEGIN
	-- Every table has its row-level security from secure_table.
	FOR obj IN
		SELECT c.oid::regclass AS tab FROM pg_catalog.pg_class c
		 WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind IN ('r', 'p')
		   AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
	LOOP
		RAISE EXCEPTION 'table % has no row-level security', obj.tab
			USING ERRCODE = 'invalid_object_definition',
				  HINT = 'Call prefactor.secure_table() next to its CREATE TABLE.';
	END LOOP;

	-- Views run with the privileges and policies of the querying role.
	FOR obj IN
		SELECT c.oid::regclass AS v FROM pg_catalog.pg_class c
		 WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind IN ('v', 'm')
	LOOP
		EXECUTE format('ALTER VIEW %s SET (security_invoker = true)', obj.v);
		EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', obj.v);
		EXECUTE format('GRANT SELECT ON %s TO prefactor_reader', obj.v);
	END LOOP;

	EXECUTE 'REVOKE ALL ON ALL SEQUENCES IN SCHEMA prefactor FROM PUBLIC';
	REVOKE ALL ON SCHEMA prefactor FROM PUBLIC;
	GRANT USAGE ON SCHEMA prefactor TO prefactor_reader;

	-- Functions: nothing for PUBLIC; the API runs as the owner with a fixed path.
	FOR obj IN
		SELECT p.oid::regprocedure AS fn, p.proname::text AS name, l.lanname,
			   -- SQL the function plans at run time, whose names the search_path resolves
			   (l.lanname = 'plpgsql' OR l.lanname = 'sql' AND p.provolatile <> 'i' AND p.prosqlbody IS NULL)
				   AS needs_path,
			   p.provolatile = 'i' AS pure
		  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
		 WHERE p.pronamespace = 'prefactor'::regnamespace AND p.prokind IN ('f', 'p', 'a', 'w')
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', obj.fn);
		IF obj.name LIKE 'pfid\_%' OR obj.pure OR obj.name = ANY (reader_helpers) THEN
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO prefactor_reader', obj.fn);
		END IF;
		IF obj.name LIKE 'prefactor\_%' AND NOT obj.name = ANY (superuser_api || reader_api) THEN
			EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER', obj.fn);
		END IF;
		-- The caller's search_path never changes what a function means: SQL and
		-- PL/pgSQL get a fixed path (prefactor is on it for the pfid operators;
		-- only the owner creates objects there; pg_temp last). C functions
		-- schema-qualify every name and operator in their saved plans instead,
		-- which keeps the per-span calls free of a GUC switch. IMMUTABLE SQL
		-- functions and SQL-standard bodies are bound when created and stay inlinable.
		IF obj.needs_path THEN
			EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, prefactor, pg_temp', obj.fn);
		END IF;
		IF obj.name = ANY (reader_api) THEN
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO prefactor_reader', obj.fn);
		ELSIF obj.name = ANY (ingest_api) THEN
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO prefactor_ingest', obj.fn);
		ELSIF obj.name = ANY (admin_api) THEN
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO prefactor_admin', obj.fn);
		END IF;
	END LOOP;
END
$$;
