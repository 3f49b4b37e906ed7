------------------------------------------------------------------------------
-- Scale-out on Citus (doc/scale-out.md). prefactor never depends on Citus:
-- this function names Citus's functions only in statements it runs after
-- checking that Citus is there, so the extension installs and works without it.
--
-- accounts and account_members become reference tables (a copy on every
-- node): the access check, member_accounts() and every lookup of an account
-- by name or partition read them where the query runs, without a distributed
-- query. Tables without account_id (the shipped risk profile templates) are
-- shared reference data too. Every other table is distributed by account_id,
-- all co-located, so everything one call touches is on one node.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION distribute() RETURNS TABLE (table_name regclass, citus_table_type text, changed boolean)
	LANGUAGE plpgsql
AS $$
DECLARE
	setting text;
	tab regclass;
	colocate regclass;
	done regclass[] := '{}';
	pending regclass[];
	progress boolean;
	fn regprocedure;
	fn_arg text;
	reference_tables regclass[] := ARRAY['prefactor.accounts'::regclass, 'prefactor.account_members'::regclass];
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'prefactor.distribute() needs the Citus extension in this database'
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Add citus to shared_preload_libraries on every node, restart, run CREATE EXTENSION citus; CREATE EXTENSION prefactor CASCADE; on every node (doc/scale-out.md).';
	END IF;
	IF NOT pg_catalog.citus_is_coordinator() THEN
		RAISE EXCEPTION 'prefactor.distribute() runs on the Citus coordinator'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Connect to the coordinator; it creates the shards on the workers.';
	END IF;
	-- The guard, scoring and audit triggers run on the shards.
	setting := current_setting('citus.enable_unsafe_triggers', true);
	IF setting IS DISTINCT FROM 'on' THEN
		RAISE EXCEPTION 'prefactor.distribute() needs citus.enable_unsafe_triggers = on (it is %)', coalesce(setting, 'unset')
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'prefactor''s row rules, live risk scoring and audit trail are triggers on the distributed tables.',
				  HINT = 'Set citus.enable_unsafe_triggers = on in postgresql.conf of every node (or ALTER SYSTEM) and reload.';
	END IF;
	-- Reference-table writes (accounts, memberships) commit on every node in two phases.
	setting := current_setting('max_prepared_transactions');
	IF setting::int = 0 THEN
		RAISE EXCEPTION 'prefactor.distribute() needs max_prepared_transactions > 0 (it is 0)'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Writes to accounts and memberships commit on every node with two-phase commit.',
				  HINT = 'Set max_prepared_transactions (e.g. 100) in postgresql.conf of every node and restart.';
	END IF;
	-- While accounts is a reference table and the tables referring to it are
	-- not yet distributed, Citus must not turn them into Citus local tables.
	PERFORM set_config('citus.enable_local_reference_table_foreign_keys', 'off', true);
	-- One connection per node for the whole transaction.
	PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);

	-- Reference tables first: the named ones, then shared data without account_id.
	FOR tab IN
		SELECT c.oid::regclass FROM pg_catalog.pg_extension e
		 CROSS JOIN LATERAL unnest(e.extconfig) AS cfg(relid)
		  JOIN pg_catalog.pg_class c ON c.oid = cfg.relid
		 WHERE e.extname = 'prefactor' AND c.relkind = 'r'
		   AND (c.oid = ANY (reference_tables)
				OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
								WHERE a.attrelid = c.oid AND a.attname = 'account_id' AND NOT a.attisdropped))
		 ORDER BY array_position(reference_tables, c.oid::regclass) NULLS LAST, c.relname
	LOOP
		changed := NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = tab);
		IF changed THEN
			PERFORM pg_catalog.create_reference_table(tab);
		END IF;
		table_name := tab;
		citus_table_type := 'reference';
		RETURN NEXT;
		done := done || tab;
	END LOOP;

	-- Every other table by account_id, co-located, each after the tables it refers to.
	SELECT array_agg(c.oid::regclass ORDER BY c.relname) INTO pending
	  FROM pg_catalog.pg_extension e
	 CROSS JOIN LATERAL unnest(e.extconfig) AS cfg(relid)
	  JOIN pg_catalog.pg_class c ON c.oid = cfg.relid
	 WHERE e.extname = 'prefactor' AND c.relkind = 'r' AND NOT c.oid::regclass = ANY (done);
	SELECT p.logicalrelid INTO colocate FROM pg_catalog.pg_dist_partition p
	 WHERE p.logicalrelid = ANY (pending) AND p.partmethod = 'h' ORDER BY p.logicalrelid::text LIMIT 1;
	WHILE cardinality(pending) > 0 LOOP
		progress := false;
		FOREACH tab IN ARRAY pending LOOP
			CONTINUE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
								   WHERE k.conrelid = tab AND k.contype = 'f' AND k.confrelid <> tab
									 AND NOT k.confrelid::regclass = ANY (done));
			changed := NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = tab);
			IF changed THEN
				IF colocate IS NULL THEN
					PERFORM pg_catalog.create_distributed_table(tab, 'account_id', colocate_with => 'none');
					colocate := tab;
				ELSE
					PERFORM pg_catalog.create_distributed_table(tab, 'account_id', colocate_with => colocate::text);
				END IF;
			END IF;
			table_name := tab;
			citus_table_type := 'distributed';
			RETURN NEXT;
			done := done || tab;
			pending := array_remove(pending, tab);
			progress := true;
		END LOOP;
		IF NOT progress THEN
			RAISE EXCEPTION 'prefactor.distribute(): the foreign keys of % form a cycle', pending
				USING ERRCODE = 'invalid_table_definition';
		END IF;
	END LOOP;

	-- The run start by account id and prefactor_sdk_call name the account;
	-- the span calls and the run finish name a run or a span, whose id hashes into the shard of its
	-- account (ids are drawn so on the shards, src/core/citus_compat.c): as
	-- distributed functions by that argument,
	-- Citus delegates each top-level call to the worker holding the account,
	-- which runs it whole, in one round trip. Only with the coordinator in
	-- Citus's metadata: a worker sends the risk alerts of a delegated call there.
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node n WHERE n.groupid = 0) THEN
		RAISE NOTICE 'prefactor.distribute(): the span calls are not delegated to the workers'
			USING DETAIL = 'The coordinator is not in Citus''s metadata, so a worker could not send it a call''s risk alerts.',
				  HINT = 'Run SELECT citus_set_coordinator_host(''<coordinator host>'', <port>); then prefactor.distribute() again.';
		RETURN;
	END IF;
	FOR fn, fn_arg IN
		SELECT f::regprocedure, a FROM (VALUES
			('prefactor.prefactor_start_run(prefactor.pfid, text, text, jsonb, jsonb, text, text, timestamptz)', 'account'),
			('prefactor.prefactor_start_span(prefactor.pfid, text, jsonb, prefactor.pfid, timestamptz, text)', 'instance'),
			('prefactor.prefactor_record_span(prefactor.pfid, text, jsonb, jsonb, text, prefactor.pfid, timestamptz, timestamptz, text)', 'instance'),
			('prefactor.prefactor_finish_span(prefactor.pfid, text, jsonb, timestamptz, text)', 'span'),
			('prefactor.prefactor_finish_run(prefactor.pfid, text, timestamptz, text)', 'instance'),
			('prefactor.prefactor_sdk_call(prefactor.pfid, text, text, text, jsonb)', 'account')) v(f, a)
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_object o
						WHERE o.classid = 'pg_catalog.pg_proc'::regclass AND o.objid = fn
						  AND o.distribution_argument_index IS NOT NULL) THEN
			PERFORM pg_catalog.create_distributed_function(fn, fn_arg, colocate_with => 'prefactor.instances');
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION distribute() IS
	'Citus coordinator, superuser: makes accounts, account_members and the shared templates reference tables and distributes every other prefactor table by account_id, co-located, in foreign-key order, and makes the run start by account id, the span calls, prefactor_finish_run and prefactor_sdk_call distributed functions Citus delegates to the account''s worker; idempotent; returns each table with its Citus type and whether this call changed it';

-- The node that holds an account's shards, as Citus's metadata names it: a
-- client or pooler that knows the account (prefactor-gateway
-- --route-by-node) sends the account's calls there, so they skip the
-- coordinator's relay; the node runs a distributed function call for its own
-- shards itself, and passes one on for shards it no longer holds (after a
-- rebalance), so a stale answer costs a hop, never a wrong write. No row on
-- a database that is not distributed, or for an account the caller has no
-- ingest access to (the two are not told apart).
CREATE OR REPLACE FUNCTION prefactor_account_node(account pfid)
	RETURNS TABLE (node_name text, node_port integer)
	LANGUAGE plpgsql STABLE
AS $$
BEGIN
	IF account IS NULL OR NOT prefactor.has_access(account, 'ingest')
	   OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RETURN;
	END IF;
	-- Citus's catalogs: PL/pgSQL plans this only now that Citus is known to be there
	RETURN QUERY
		SELECT n.nodename::text, n.nodeport::integer
		  FROM pg_catalog.pg_dist_placement p
		  JOIN pg_catalog.pg_dist_node n ON n.groupid = p.groupid
		 WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition d
						WHERE d.logicalrelid = 'prefactor.instances'::regclass AND d.partmethod = 'h')
		   AND p.shardid = pg_catalog.get_shard_id_for_distribution_column('prefactor.instances', account)
		   AND n.isactive AND n.noderole = 'primary'
		 ORDER BY n.nodeid LIMIT 1;
END
$$;
COMMENT ON FUNCTION prefactor_account_node(pfid) IS
	'Citus: the host and port of the node holding the account''s shards, to send its calls to directly (prefactor-gateway --route-by-node); no row when the database is not distributed or the caller has no ingest access to the account';
