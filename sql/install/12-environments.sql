------------------------------------------------------------------------------
-- Environments: the named delivery stages of an account.
------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS environments (
	account_id	pfid NOT NULL REFERENCES accounts,
	id			pfid NOT NULL,
	name		text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	description	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, name),
	CONSTRAINT environments_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id)),
	CONSTRAINT environments_name_not_blank CHECK (btrim(name) <> '')
);
COMMENT ON TABLE environments IS 'Named delivery stages of an account (development, staging, production, ...)';
COMMENT ON COLUMN environments.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN environments.id IS 'Id: a pfid in its account''s partition';
COMMENT ON COLUMN environments.name IS 'Unique name of the environment in its account (development, staging, production, ...)';
COMMENT ON COLUMN environments.description IS 'Free text describing it';
COMMENT ON COLUMN environments.created_at IS 'When the row was created';
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON environments FOR EACH ROW EXECUTE FUNCTION assign_id();
SELECT pg_catalog.pg_extension_config_dump('environments', '');
SELECT prefactor.secure_table('environments', '{}', '{INSERT,UPDATE,DELETE}');

-- C (src/access/resolve.c): the run start resolves its environment there too.
CREATE OR REPLACE FUNCTION resolve_environment(account pfid, environment text) RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_resolve_environment_sql' LANGUAGE C STABLE;
COMMENT ON FUNCTION resolve_environment(pfid, text) IS
	'The id of the account''s environment named by id or name; no_data_found if none';

CREATE OR REPLACE FUNCTION prefactor_create_environment(account text, name text, description text DEFAULT NULL,
											 idempotency_key text DEFAULT NULL)
	RETURNS pfid
	LANGUAGE plpgsql
AS $$
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
	prior jsonb;
	new_id prefactor.pfid;
BEGIN
	prior := prefactor.idempotency_claim(account_id, idempotency_key, 'create_environment',
		jsonb_build_object('name', name, 'description', description));
	IF prior IS NOT NULL THEN
		RETURN (prior->>'id')::prefactor.pfid;
	END IF;
	INSERT INTO prefactor.environments (account_id, name, description)
	VALUES (account_id, prefactor.check_name('environment name', name), description)
	RETURNING id INTO new_id;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, jsonb_build_object('id', new_id));
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION prefactor_create_environment(text, text, text, text) IS
	'Creates a named environment (delivery stage) in the account (by id or name); returns its id';
