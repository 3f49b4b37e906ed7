------------------------------------------------------------------------------
-- Agents: stable identity across environments and versions, optionally with
-- the risk profile their runs are scored under.
------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS agents (
	account_id		pfid NOT NULL REFERENCES accounts,
	id				pfid NOT NULL,
	name			text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	description		text,
	risk_profile_id	pfid,
	created_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, name),
	FOREIGN KEY (account_id, risk_profile_id) REFERENCES risk_profiles,
	CONSTRAINT agents_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id)),
	CONSTRAINT agents_name_not_blank CHECK (btrim(name) <> '')
);
COMMENT ON TABLE agents IS 'Stable agent identity across environments and versions';
COMMENT ON COLUMN agents.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN agents.id IS 'Id: a pfid in its account''s partition';
COMMENT ON COLUMN agents.name IS 'Unique name of the agent in its account';
COMMENT ON COLUMN agents.description IS 'Free text describing it';
COMMENT ON COLUMN agents.risk_profile_id IS 'The risk profile its new runs are scored under; NULL: not scored';
COMMENT ON COLUMN agents.created_at IS 'When the row was created';
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON agents FOR EACH ROW EXECUTE FUNCTION assign_id();
SELECT pg_catalog.pg_extension_config_dump('agents', '');
SELECT prefactor.secure_table('agents', '{}', '{INSERT,UPDATE,DELETE}');

-- C (src/access/resolve.c): the run start resolves its agent there too.
CREATE OR REPLACE FUNCTION resolve_agent(account pfid, agent text) RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_resolve_agent_sql' LANGUAGE C STABLE;
COMMENT ON FUNCTION resolve_agent(pfid, text) IS
	'The id of the account''s agent named by id or name; no_data_found if none';

CREATE OR REPLACE FUNCTION prefactor_register_agent(account text, name text, description text DEFAULT NULL,
										 risk_profile text DEFAULT NULL, idempotency_key text DEFAULT NULL)
	RETURNS pfid
	LANGUAGE plpgsql
AS $$
<<prefactor_register_agent>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
	profile_id prefactor.pfid;
	new_id prefactor.pfid;
	prior jsonb;
BEGIN
	prior := prefactor.idempotency_claim(account_id, idempotency_key, 'register_agent',
		jsonb_build_object('name', name, 'description', description, 'risk_profile', risk_profile));
	IF prior IS NOT NULL THEN
		RETURN (prior->>'id')::prefactor.pfid;
	END IF;
	IF risk_profile IS NOT NULL THEN
		-- looked up first, then checked: Citus cannot type a parameter inside a subquery argument
		SELECT p.id INTO profile_id FROM prefactor.risk_profiles p
		 WHERE p.account_id = prefactor_register_agent.account_id
		   AND (p.id = prefactor.try_pfid(risk_profile) OR p.name = risk_profile)
		   AND p.deleted_at IS NULL;
		profile_id := prefactor.require_found('risk profile', risk_profile, profile_id,
			'Create one with prefactor.prefactor_create_risk_profile().');
	END IF;
	INSERT INTO prefactor.agents (account_id, name, description, risk_profile_id)
	VALUES (account_id, prefactor.check_name('agent name', name), description, profile_id)
	RETURNING id INTO new_id;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, jsonb_build_object('id', new_id));
	RETURN new_id;
END prefactor_register_agent
$$;
COMMENT ON FUNCTION prefactor_register_agent(text, text, text, text, text) IS
	'Registers an agent in the account (by id or name), optionally with a risk profile (by id or name); returns its id';
CREATE OR REPLACE FUNCTION prefactor_assign_risk_profile(account text, agent text, risk_profile text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = prefactor, pg_catalog
	AS $$
DECLARE
	acct	pfid := prefactor.resolve_account(account);
	agent_id pfid := prefactor.resolve_agent(acct, agent);
	p		risk_profiles;
BEGIN
	IF risk_profile IS NOT NULL THEN
		SELECT * INTO p FROM risk_profiles x
		 WHERE x.account_id = acct AND (x.id = prefactor.try_pfid(risk_profile) OR x.name = risk_profile);
		IF NOT FOUND THEN
			RAISE EXCEPTION 'risk profile "%" does not exist in account "%"', prefactor.excerpt(risk_profile), prefactor.excerpt(account) USING ERRCODE = 'no_data_found';
		END IF;
		IF p.deleted_at IS NOT NULL THEN
			RAISE EXCEPTION 'risk profile "%" was deleted', risk_profile
				USING ERRCODE = '55000', HINT = 'Assign a profile that is not deleted.';
		END IF;
	END IF;
	UPDATE agents a SET risk_profile_id = p.id WHERE a.account_id = acct AND a.id = agent_id;
END
$$;
COMMENT ON FUNCTION prefactor_assign_risk_profile(text, text, text) IS
	'Assign a risk profile to an agent (null unassigns); runs registered afterwards are scored under its latest revision';
