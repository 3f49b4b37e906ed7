------------------------------------------------------------------------------
-- Idempotency: a mutating call with a key first claims it; a retry finds the
-- first answer. The claim is part of the caller's transaction, so a failed
-- call leaves no key behind, and a concurrent retry waits for the first.
------------------------------------------------------------------------------

-- One row per idempotency key an account used: the call it answered and its answer.
CREATE TABLE IF NOT EXISTS idempotency_keys (
	account_id		pfid NOT NULL REFERENCES accounts,
	key				text NOT NULL,
	operation		text NOT NULL,
	request			jsonb NOT NULL,
	response		jsonb,
	created_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, key),
	CONSTRAINT idempotency_keys_key_length CHECK (key <> '' AND length(key) <= 64)
);
COMMENT ON TABLE idempotency_keys IS
	'Idempotency keys per account: a retry with the same key and arguments gets the first answer';
COMMENT ON COLUMN idempotency_keys.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN idempotency_keys.key IS 'The client''s idempotency key (1 to 64 characters)';
COMMENT ON COLUMN idempotency_keys.operation IS 'The API call that first used the key';
COMMENT ON COLUMN idempotency_keys.request IS 'The arguments of that first call';
COMMENT ON COLUMN idempotency_keys.response IS 'Its answer, returned to a retry with the same arguments';
COMMENT ON COLUMN idempotency_keys.created_at IS 'When the row was created';
SELECT pg_catalog.pg_extension_config_dump('idempotency_keys', '');
-- the ingest role's calls claim and answer keys
SELECT prefactor.secure_table('idempotency_keys', '{INSERT,UPDATE}', '{}');

CREATE OR REPLACE FUNCTION idempotency_claim(account pfid, key text, operation text, request jsonb)
	RETURNS jsonb
	LANGUAGE plpgsql
AS $$
DECLARE
	prior record;
BEGIN
	IF key IS NULL THEN
		RETURN NULL;
	END IF;
	IF key = '' OR length(key) > 64 THEN
		RAISE EXCEPTION 'idempotency key must have 1 to 64 characters, not %', length(key)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO prefactor.idempotency_keys AS k (account_id, key, operation, request)
	VALUES (account, key, operation, request)
	ON CONFLICT DO NOTHING;
	IF FOUND THEN
		RETURN NULL;
	END IF;
	SELECT k.operation, k.request, k.response INTO prior
	  FROM prefactor.idempotency_keys k
	 WHERE k.account_id = idempotency_claim.account AND k.key = idempotency_claim.key;
	IF prior.operation <> operation OR prior.request <> request THEN
		RAISE EXCEPTION 'idempotency key "%" was already used with different arguments', key
			USING ERRCODE = 'unique_violation',
				  DETAIL = format('First used for %s with %s.', prior.operation, prefactor.excerpt(prior.request::text)),
				  HINT = 'Use a new key for a new action; reuse a key only to retry the same call.';
	END IF;
	RETURN prior.response;
END
$$;
COMMENT ON FUNCTION idempotency_claim(pfid, text, text, jsonb) IS
	'Claims an idempotency key for a call; returns NULL to proceed, or the first answer of a retried call';

CREATE OR REPLACE FUNCTION idempotency_answer(account pfid, key text, response jsonb) RETURNS void
	LANGUAGE plpgsql
AS $$
BEGIN
	IF key IS NOT NULL THEN
		UPDATE prefactor.idempotency_keys k SET response = idempotency_answer.response
		 WHERE k.account_id = idempotency_answer.account AND k.key = idempotency_answer.key;
	END IF;
END
$$;
COMMENT ON FUNCTION idempotency_answer(pfid, text, jsonb) IS
	'Stores the answer of a call that claimed an idempotency key';

