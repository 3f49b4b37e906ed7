------------------------------------------------------------------------------
-- The run start naming its account by id (doc/scale-out.md, "Calls run on
-- the account's worker"): the same call as prefactor_start_run(account text,
-- ...), whose account may be a name or an id, but with a pfid Citus can hash.
-- prefactor.distribute() makes it a distributed function by that argument,
-- so a Citus coordinator sends the whole run start to the worker holding
-- the account, in one round trip. Calls whose first argument is an untyped
-- literal or text keep resolving to the text form (the string category wins).
------------------------------------------------------------------------------
CREATE FUNCTION prefactor_start_run(account pfid, agent text, environment text, version jsonb, schema jsonb,
									purpose text DEFAULT 'live', idempotency_key text DEFAULT NULL,
									started_at timestamptz DEFAULT NULL)
	RETURNS pfid
	LANGUAGE plpgsql
AS $$
BEGIN
	RETURN prefactor.create_instance('start_run', account::text, agent, environment, version, schema, purpose,
									 idempotency_key, started_at);
END
$$;
COMMENT ON FUNCTION prefactor_start_run(pfid, text, text, jsonb, jsonb, text, text, timestamptz) IS
	'Starts a run as prefactor_start_run(account text, ...) does, naming the account by its id: on Citus the call runs whole on the worker holding the account (prefactor.distribute())';
