------------------------------------------------------------------------------
-- Every SQL and PL/pgSQL function of the extension that is not IMMUTABLE runs
-- with a fixed search_path, so its results never depend on the caller's path.
-- prefactor must be on it: the operators of the pfid type live there. Only the
-- extension owner can create objects in prefactor, and pg_temp comes last.
-- (IMMUTABLE helpers compare no pfids and stay inlinable; so do functions with a
-- SQL-standard body, BEGIN ATOMIC or RETURN, whose names and operators were
-- bound when they were created, e.g. prefactor_span_timeline, which must be
-- inlined so that its instance filter reaches the spans index in the caller's plan.)
------------------------------------------------------------------------------
DO $$
DECLARE
	fn regprocedure;
BEGIN
	FOR fn IN
		SELECT p.oid::regprocedure
		  FROM pg_catalog.pg_proc p
		  JOIN pg_catalog.pg_language l ON l.oid = p.prolang
		 WHERE p.pronamespace = 'prefactor'::regnamespace
		   AND l.lanname IN ('sql', 'plpgsql') AND p.provolatile <> 'i' AND p.prokind = 'f'
		   AND p.prosqlbody IS NULL
	LOOP
		EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, prefactor, pg_temp', fn);
	END LOOP;
END
$$;
