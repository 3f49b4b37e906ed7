-- prefactor 0.1.0: the pfid type and the whole data model.
\echo Use "CREATE EXTENSION prefactor" to load this file. \quit

-- The schema is created here (not by the control file) so that it is a member
-- of the extension and DROP EXTENSION removes it with everything else.
CREATE SCHEMA prefactor;
COMMENT ON SCHEMA prefactor IS 'prefactor: governance of AI-agent runs';
SET LOCAL search_path = prefactor, pg_catalog;

------------------------------------------------------------------------------
-- The pfid type
------------------------------------------------------------------------------
CREATE TYPE pfid;

CREATE FUNCTION pfid_in(cstring) RETURNS pfid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pfid_out(pfid) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pfid_recv(internal) RETURNS pfid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pfid_send(pfid) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE pfid (
	INPUT = pfid_in,
	OUTPUT = pfid_out,
	RECEIVE = pfid_recv,
	SEND = pfid_send,
	INTERNALLENGTH = 20,
	ALIGNMENT = char,
	STORAGE = plain
);
COMMENT ON TYPE pfid IS
	'Prefactor id: 48-bit ms timestamp, 30-bit partition, 80 random bits; 32 Crockford Base32 characters, 20 bytes; sorts by time, partition, randomness';

CREATE FUNCTION pfid_lt(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION pfid_le(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION pfid_eq(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION pfid_ne(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION pfid_ge(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION pfid_gt(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION pfid_cmp(pfid, pfid) RETURNS int4 AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION pfid_sortsupport(internal) RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pfid_hash(pfid) RETURNS int4 AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION pfid_hash_extended(pfid, int8) RETURNS int8 AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR < (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_lt,
	COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR <= (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_le,
	COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR = (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR <> (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR >= (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_ge,
	COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel);
CREATE OPERATOR > (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_gt,
	COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel);

CREATE OPERATOR CLASS pfid_ops DEFAULT FOR TYPE pfid USING btree AS
	OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
	FUNCTION 1 pfid_cmp(pfid, pfid),
	FUNCTION 2 pfid_sortsupport(internal);

CREATE OPERATOR CLASS pfid_hash_ops DEFAULT FOR TYPE pfid USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 pfid_hash(pfid),
	FUNCTION 2 pfid_hash_extended(pfid, int8);

CREATE FUNCTION pfid_generate(partition int) RETURNS pfid
	AS 'MODULE_PATHNAME', 'pfid_generate_now' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_generate(int) IS
	'New pfid in the given partition (0..1073741823), stamped with the current time; randomness from pg_strong_random';
CREATE FUNCTION pfid_generate(partition int, at timestamptz) RETURNS pfid
	AS 'MODULE_PATHNAME', 'pfid_generate_at' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_generate(int, timestamptz) IS
	'New pfid in the given partition stamped with the given instant (millisecond precision, 1970 .. year 10889)';
CREATE FUNCTION pfid_build(unix_ms bigint, partition int, randomness bytea) RETURNS pfid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_build(bigint, int, bytea) IS
	'The pfid with exactly these fields: Unix milliseconds (48 bits), partition (30 bits), 10 bytes of randomness';
CREATE FUNCTION pfid_timestamp(pfid) RETURNS timestamptz
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_timestamp(pfid) IS 'The instant a pfid was generated for (millisecond precision)';
CREATE FUNCTION pfid_unix_ms(pfid) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_unix_ms(pfid) IS 'The timestamp field of a pfid in Unix milliseconds';
CREATE FUNCTION pfid_partition(pfid) RETURNS int
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_partition(pfid) IS 'The partition field of a pfid: the account partition its row belongs to';
CREATE FUNCTION pfid_randomness(pfid) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_randomness(pfid) IS 'The 80 random bits of a pfid as 10 bytes';

------------------------------------------------------------------------------
-- The data model. Every table carries account_id and every reference is a
-- composite (account_id, id) key, so no row can point across accounts.
------------------------------------------------------------------------------
CREATE FUNCTION assign_id() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_assign_id' LANGUAGE C;
COMMENT ON FUNCTION assign_id() IS
	'BEFORE INSERT trigger: gives a row without id a new pfid in its account''s partition';

CREATE TYPE risk_level AS ENUM ('low', 'medium', 'high', 'critical');
COMMENT ON TYPE risk_level IS 'Ordered risk bands: low < medium < high < critical, so max() gives the peak';

CREATE SEQUENCE account_partition_seq AS int MINVALUE 0 MAXVALUE 1073741823 START 1 NO CYCLE;

CREATE TABLE accounts (
	account_id	pfid PRIMARY KEY,
	partition	int NOT NULL UNIQUE,
	name		text NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 200),
	created_at	timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT accounts_id_partition CHECK (pfid_partition(account_id) = partition)
);
COMMENT ON TABLE accounts IS 'The outer boundary: every other row belongs to exactly one account';

CREATE TABLE environments (
	account_id	pfid NOT NULL REFERENCES accounts,
	id			pfid NOT NULL,
	name		text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	description	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, name),
	CONSTRAINT environments_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE environments IS 'Named delivery stages of an account (development, staging, production, ...)';

CREATE TABLE risk_profiles (
	account_id	pfid NOT NULL REFERENCES accounts,
	id			pfid NOT NULL,
	name		text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	description	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	deleted_at	timestamptz,
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, name),
	CONSTRAINT risk_profiles_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE risk_profiles IS 'Risk profiles of an account; deleted ones are kept for audit';

CREATE TABLE risk_profile_revisions (
	account_id			pfid NOT NULL,
	id					pfid NOT NULL,
	risk_profile_id		pfid NOT NULL,
	revision			int NOT NULL CHECK (revision > 0),
	category_weights	jsonb NOT NULL DEFAULT '{}',
	action_multipliers	jsonb NOT NULL DEFAULT '{}',
	medium_threshold	numeric NOT NULL,
	high_threshold		numeric NOT NULL,
	critical_threshold	numeric NOT NULL,
	terminate_at_level	risk_level CHECK (terminate_at_level <> 'low'),
	created_at			timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, risk_profile_id, revision),
	FOREIGN KEY (account_id, risk_profile_id) REFERENCES risk_profiles,
	CONSTRAINT risk_profile_revisions_thresholds CHECK (medium_threshold > 0 AND medium_threshold < high_threshold
		   AND high_threshold < critical_threshold),
	CONSTRAINT risk_profile_revisions_shapes CHECK (jsonb_typeof(category_weights) = 'object'
		   AND jsonb_typeof(action_multipliers) = 'object'),
	CONSTRAINT risk_profile_revisions_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE risk_profile_revisions IS
	'Every edit of a risk profile is a new revision; instances record the revision they were scored under';

CREATE TABLE agents (
	account_id		pfid NOT NULL REFERENCES accounts,
	id				pfid NOT NULL,
	name			text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	description		text,
	risk_profile_id	pfid,
	created_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, name),
	FOREIGN KEY (account_id, risk_profile_id) REFERENCES risk_profiles,
	CONSTRAINT agents_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE agents IS 'Stable agent identity across environments and versions';

CREATE TABLE activity_schema_versions (
	account_id			pfid NOT NULL,
	id					pfid NOT NULL,
	agent_id			pfid NOT NULL,
	number				int NOT NULL CHECK (number > 0),
	external_identifier	text,
	content				jsonb NOT NULL,
	content_digest		bytea NOT NULL,
	problems			jsonb,
	created_at			timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, agent_id, id),
	UNIQUE (account_id, agent_id, number),
	UNIQUE (account_id, agent_id, content_digest),
	FOREIGN KEY (account_id, agent_id) REFERENCES agents,
	CONSTRAINT activity_schema_versions_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE activity_schema_versions IS
	'Per agent, numbered by arrival and keyed by canonical content; never changes once stored';

CREATE TABLE span_types (
	account_id			pfid NOT NULL,
	id					pfid NOT NULL,
	schema_version_id	pfid NOT NULL,
	name				text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	params_schema		jsonb,
	result_schema		jsonb,
	description			text,
	template			text,
	result_template		text,
	data_risk			jsonb,
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, schema_version_id, name),
	FOREIGN KEY (account_id, schema_version_id) REFERENCES activity_schema_versions,
	CONSTRAINT span_types_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE span_types IS
	'Span types declared by a schema version: payload (params) and result JSON Schemas and declared data risk';

CREATE TABLE agent_versions (
	account_id			pfid NOT NULL,
	id					pfid NOT NULL,
	agent_id			pfid NOT NULL,
	schema_version_id	pfid NOT NULL,
	external_identifier	text,
	name				text,
	description			text,
	metadata			jsonb NOT NULL,
	metadata_digest		bytea NOT NULL,
	created_at			timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, agent_id, id),
	UNIQUE (account_id, agent_id, metadata_digest, schema_version_id),
	FOREIGN KEY (account_id, agent_id) REFERENCES agents,
	FOREIGN KEY (account_id, agent_id, schema_version_id)
		REFERENCES activity_schema_versions (account_id, agent_id, id),
	CONSTRAINT agent_versions_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
COMMENT ON TABLE agent_versions IS
	'One per combination of version metadata and schema version an agent reported; never changes';

CREATE TABLE agent_deployments (
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
CREATE UNIQUE INDEX agent_deployments_one_active
	ON agent_deployments (account_id, agent_id, environment_id) WHERE retired_at IS NULL;
COMMENT ON TABLE agent_deployments IS
	'Which version is live in which environment; at most one active per agent and environment, history kept';

CREATE TABLE instances (
	account_id			pfid NOT NULL,
	id					pfid NOT NULL,
	agent_id			pfid NOT NULL,
	version_id			pfid NOT NULL,
	schema_version_id	pfid NOT NULL,
	environment_id		pfid NOT NULL,
	purpose				text NOT NULL DEFAULT 'live'
						CHECK (purpose IN ('live', 'smoke_test', 'eval')),
	status				text NOT NULL DEFAULT 'pending'
						CHECK (status IN ('pending', 'active', 'complete', 'failed', 'cancelled', 'terminated')),
	registered_at		timestamptz NOT NULL DEFAULT now(),
	started_at			timestamptz,
	finished_at			timestamptz,
	termination_reason	text,
	risk_profile_revision_id pfid,
	risk_score			numeric,
	risk_level			risk_level,
	PRIMARY KEY (account_id, id),
	FOREIGN KEY (account_id, agent_id, version_id) REFERENCES agent_versions (account_id, agent_id, id),
	FOREIGN KEY (account_id, agent_id, schema_version_id)
		REFERENCES activity_schema_versions (account_id, agent_id, id),
	FOREIGN KEY (account_id, environment_id) REFERENCES environments,
	FOREIGN KEY (account_id, risk_profile_revision_id) REFERENCES risk_profile_revisions,
	CONSTRAINT instances_times_ordered CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at),
	CONSTRAINT instances_finished_when_done CHECK ((status IN ('pending', 'active')) = (finished_at IS NULL)),
	CONSTRAINT instances_started_unless_pending CHECK (status = 'pending' OR status = 'cancelled' OR started_at IS NOT NULL),
	CONSTRAINT instances_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
CREATE INDEX instances_agent_env_started
	ON instances (account_id, agent_id, environment_id, started_at);
COMMENT ON TABLE instances IS
	'One per agent run, stamped with agent, version, schema version, environment and purpose';

CREATE TABLE instance_quality (
	account_id	pfid NOT NULL,
	instance_id	pfid NOT NULL,
	name		text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	payload		jsonb NOT NULL,
	recorded_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, instance_id, name),
	FOREIGN KEY (account_id, instance_id) REFERENCES instances ON DELETE CASCADE
);
COMMENT ON TABLE instance_quality IS 'Named quality evaluations recorded on an instance';

CREATE TABLE spans (
	account_id		pfid NOT NULL,
	id				pfid NOT NULL,
	instance_id		pfid NOT NULL,
	parent_span_id	pfid,
	span_type		text NOT NULL CHECK (span_type <> '' AND length(span_type) <= 200),
	status			text NOT NULL DEFAULT 'active'
					CHECK (status IN ('pending', 'active', 'complete', 'failed', 'cancelled')),
	payload			jsonb NOT NULL DEFAULT '{}',
	result			jsonb,
	started_at		timestamptz NOT NULL DEFAULT now(),
	finished_at		timestamptz,
	payload_conforms boolean,
	payload_errors	jsonb,
	result_conforms	boolean,
	result_errors	jsonb,
	validation		text CHECK (validation IN ('validated', 'undeclared', 'schema_invalid')),
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, instance_id, id),
	FOREIGN KEY (account_id, instance_id) REFERENCES instances,
	-- a parent span must belong to the same instance
	FOREIGN KEY (account_id, instance_id, parent_span_id) REFERENCES spans (account_id, instance_id, id),
	CONSTRAINT spans_not_own_parent CHECK (parent_span_id IS NULL OR parent_span_id <> id),
	CONSTRAINT spans_times_ordered CHECK (finished_at IS NULL OR finished_at >= started_at),
	CONSTRAINT spans_finished_when_done CHECK ((status IN ('pending', 'active')) = (finished_at IS NULL)),
	CONSTRAINT spans_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id))
);
CREATE INDEX spans_instance_started ON spans (account_id, instance_id, started_at);
CREATE INDEX spans_parent ON spans (account_id, parent_span_id) WHERE parent_span_id IS NOT NULL;
COMMENT ON TABLE spans IS
	'One per agent step: type, payload, result, times, status, parent, and whether it matched its declared shape';

-- Durations are derived from the stored times, never stored twice.
CREATE FUNCTION duration(instances) RETURNS interval
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN $1.finished_at - $1.started_at;
COMMENT ON FUNCTION duration(instances) IS 'Run duration (finished_at - started_at); null while running';
CREATE FUNCTION duration(spans) RETURNS interval
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN $1.finished_at - $1.started_at;
COMMENT ON FUNCTION duration(spans) IS 'Span duration (finished_at - started_at); null while running';

CREATE TRIGGER assign_id BEFORE INSERT ON environments FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE TRIGGER assign_id BEFORE INSERT ON risk_profiles FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE TRIGGER assign_id BEFORE INSERT ON risk_profile_revisions FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE TRIGGER assign_id BEFORE INSERT ON agents FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE TRIGGER assign_id BEFORE INSERT ON activity_schema_versions FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE TRIGGER assign_id BEFORE INSERT ON span_types FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE TRIGGER assign_id BEFORE INSERT ON agent_versions FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE TRIGGER assign_id BEFORE INSERT ON agent_deployments FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE TRIGGER assign_id BEFORE INSERT ON instances FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE TRIGGER assign_id BEFORE INSERT ON spans FOR EACH ROW EXECUTE FUNCTION assign_id();

-- pg_dump must keep the rows of every table the extension creates.
SELECT pg_catalog.pg_extension_config_dump('accounts', '');
SELECT pg_catalog.pg_extension_config_dump('environments', '');
SELECT pg_catalog.pg_extension_config_dump('risk_profiles', '');
SELECT pg_catalog.pg_extension_config_dump('risk_profile_revisions', '');
SELECT pg_catalog.pg_extension_config_dump('agents', '');
SELECT pg_catalog.pg_extension_config_dump('activity_schema_versions', '');
SELECT pg_catalog.pg_extension_config_dump('span_types', '');
SELECT pg_catalog.pg_extension_config_dump('agent_versions', '');
SELECT pg_catalog.pg_extension_config_dump('agent_deployments', '');
SELECT pg_catalog.pg_extension_config_dump('instances', '');
SELECT pg_catalog.pg_extension_config_dump('instance_quality', '');
SELECT pg_catalog.pg_extension_config_dump('spans', '');
SELECT pg_catalog.pg_extension_config_dump('account_partition_seq', '');
