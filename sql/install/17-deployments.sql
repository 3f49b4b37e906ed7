------------------------------------------------------------------------------
-- Deployments: which version is live in which environment, history kept
------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS agent_deployments (
	account_id		pfid NOT NULL,
	id				pfid NOT NULL,
	agent_id		pfid NOT NULL,
	environment_id	pfid NOT NULL,
	version_id		pfid NOT NULL,
	deployed_at		timestamptz NOT NULL DEFAULT now(),
	retired_at		timestamptz,
	PRIMARY KEY (account_id, id),
	FOREIGN KEY (account_id, environment_id) REFERENCES environments,
	FOREIGN KEY (account_id, agent_id, version_id) REFERENCES agent_versions (account_id, agent_id, id),
	CONSTRAINT agent_deployments_times_ordered CHECK (retired_at IS NULL OR retired_at >= deployed_at),
	CONSTRAINT agent_deployments_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE agent_deployments IS
	'Which version is live in which environment; at most one active per agent and environment, history kept';
COMMENT ON COLUMN agent_deployments.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN agent_deployments.id IS 'Id: a pfid in its account''s partition';
COMMENT ON COLUMN agent_deployments.agent_id IS 'The deployed agent';
COMMENT ON COLUMN agent_deployments.environment_id IS 'The environment it is deployed in';
COMMENT ON COLUMN agent_deployments.version_id IS 'The version deployed';
COMMENT ON COLUMN agent_deployments.deployed_at IS 'When this version became live there';
COMMENT ON COLUMN agent_deployments.retired_at IS 'When another deployment replaced it; NULL while live';
CREATE UNIQUE INDEX IF NOT EXISTS agent_deployments_one_active
	ON agent_deployments (account_id, agent_id, environment_id) WHERE retired_at IS NULL;
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON agent_deployments FOR EACH ROW EXECUTE FUNCTION assign_id();
SELECT pg_catalog.pg_extension_config_dump('agent_deployments', '');
SELECT prefactor.secure_table('agent_deployments', '{}', '{INSERT,UPDATE,DELETE}');

CREATE OR REPLACE FUNCTION prefactor_deploy(account text, agent text, environment text, version text,
								 idempotency_key text DEFAULT NULL) RETURNS pfid
	LANGUAGE plpgsql
AS $$
<<prefactor_deploy>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
	agent_id prefactor.pfid := prefactor.resolve_agent(account_id, agent);
	environment_id prefactor.pfid := prefactor.resolve_environment(account_id, environment);
	version_id prefactor.pfid;
	current record;
	new_id prefactor.pfid;
	prior jsonb;
BEGIN
	prior := prefactor.idempotency_claim(account_id, idempotency_key, 'deploy',
		jsonb_build_object('agent', agent_id, 'environment', environment_id, 'version', version));
	IF prior IS NOT NULL THEN
		RETURN (prior->>'id')::prefactor.pfid;
	END IF;
	IF version IS NULL THEN
		RAISE EXCEPTION 'version must not be null' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Name the version by its external identifier or id.';
	END IF;
	SELECT v.id INTO version_id FROM prefactor.agent_versions v
	 WHERE v.account_id = prefactor_deploy.account_id AND v.agent_id = prefactor_deploy.agent_id
	   AND (v.id = prefactor.try_pfid(version) OR v.external_identifier = version)
	 ORDER BY v.id = prefactor.try_pfid(version) DESC NULLS LAST, v.created_at DESC, v.id DESC LIMIT 1;
	IF version_id IS NULL THEN
		RAISE EXCEPTION 'agent "%" has no version "%"', prefactor.excerpt(agent), prefactor.excerpt(version)
			USING ERRCODE = 'no_data_found',
				  HINT = 'Versions are created by the first run that reports them (prefactor_start_run).';
	END IF;
	-- Serialise deploys of one agent, so concurrent deploys leave exactly one active.
	PERFORM 1 FROM prefactor.agents g
	 WHERE g.account_id = prefactor_deploy.account_id AND g.id = prefactor_deploy.agent_id FOR NO KEY UPDATE;
	SELECT d.id, d.version_id INTO current FROM prefactor.agent_deployments d
	 WHERE d.account_id = prefactor_deploy.account_id AND d.agent_id = prefactor_deploy.agent_id
	   AND d.environment_id = prefactor_deploy.environment_id AND d.retired_at IS NULL;
	IF current.version_id = version_id THEN
		new_id := current.id;	-- already live: nothing changes
	ELSE
		UPDATE prefactor.agent_deployments d SET retired_at = greatest(d.deployed_at, now())
		 WHERE d.account_id = prefactor_deploy.account_id AND d.id = current.id;
		INSERT INTO prefactor.agent_deployments (account_id, agent_id, environment_id, version_id)
		VALUES (account_id, agent_id, environment_id, version_id)
		RETURNING id INTO new_id;
	END IF;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, jsonb_build_object('id', new_id));
	RETURN new_id;
END prefactor_deploy
$$;
COMMENT ON FUNCTION prefactor_deploy(text, text, text, text, text) IS
	'Makes the agent''s version (by id or external identifier) the active deployment in the environment, retiring the previous one; returns the deployment id';

-- What is live now (the whole history: deployment_history, 70-views.sql).
CREATE OR REPLACE VIEW live_deployments WITH (security_invoker = true) AS
SELECT d.account_id, d.agent_id, g.name AS agent, d.environment_id, e.name AS environment,
	   d.version_id, v.external_identifier AS version, v.schema_version_id, d.id AS deployment_id, d.deployed_at
  -- left joins to the name tables, as in 70-views.sql (same rows, fewer join orders to plan)
  FROM prefactor.agent_deployments d
  LEFT JOIN prefactor.agents g ON g.account_id = d.account_id AND g.id = d.agent_id
  LEFT JOIN prefactor.environments e ON e.account_id = d.account_id AND e.id = d.environment_id
  LEFT JOIN prefactor.agent_versions v ON v.account_id = d.account_id AND v.id = d.version_id
 WHERE d.retired_at IS NULL;
COMMENT ON VIEW live_deployments IS 'What is live where: the active deployment of each agent in each environment';
COMMENT ON COLUMN live_deployments.account_id IS 'Account of the deployment';
COMMENT ON COLUMN live_deployments.agent_id IS 'Agent id';
COMMENT ON COLUMN live_deployments.agent IS 'Agent name';
COMMENT ON COLUMN live_deployments.environment_id IS 'Environment id';
COMMENT ON COLUMN live_deployments.environment IS 'Environment name';
COMMENT ON COLUMN live_deployments.version_id IS 'Deployed agent version id';
COMMENT ON COLUMN live_deployments.version IS 'External identifier of the deployed version';
COMMENT ON COLUMN live_deployments.schema_version_id IS 'Schema version paired with the deployed version';
COMMENT ON COLUMN live_deployments.deployment_id IS 'Deployment id';
COMMENT ON COLUMN live_deployments.deployed_at IS 'When this version became live in the environment';
