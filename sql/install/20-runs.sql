------------------------------------------------------------------------------
-- Runs (instances): registered or started with the agent's version and
-- schema version, started, finished or terminated; their quality
-- evaluations; retention. Plain INSERT/UPDATE into instances goes through the
-- same guard triggers as the functions, so both paths apply the same checks.
------------------------------------------------------------------------------

-- Whether a run or span status is open (pending, active): the statuses' one
-- home is C (src/guard/statuses.c), which the guards use too.
CREATE OR REPLACE FUNCTION status_open(status text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prefactor_status_open_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION status_open(text) IS
	'Whether a run or span status is open (pending or active) rather than finished';

-- A run's row rules hold on every insert and update; its stamps never change,
-- a finished run never changes, a started run never goes back, and a run
-- that finishes closes its open spans (C, src/guard/run_guard.c).
CREATE OR REPLACE FUNCTION instances_before_insert() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_instances_before_insert' LANGUAGE C;
COMMENT ON FUNCTION instances_before_insert() IS
	'BEFORE INSERT on instances: the row rules of a run (status, purpose, times, id partition), raised as check_violation under the constraint names';
CREATE OR REPLACE FUNCTION instances_before_update() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_instances_before_update' LANGUAGE C;
COMMENT ON FUNCTION instances_before_update() IS
	'BEFORE UPDATE on instances: stamps never change; a finished run never changes; a started run never goes back; the row rules hold';

-- Run data leaves only through prefactor_purge_runs, and only whole finished runs.
CREATE OR REPLACE FUNCTION run_data_guard_delete() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	IF current_setting('prefactor.purging', true) IS DISTINCT FROM 'on' THEN
		RAISE EXCEPTION 'rows of %.% are part of the audit trail', TG_TABLE_SCHEMA, TG_TABLE_NAME
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Remove whole finished runs with prefactor.prefactor_purge_runs(account, older_than).';
	END IF;
	RETURN OLD;
END
$$;
COMMENT ON FUNCTION run_data_guard_delete() IS
	'BEFORE DELETE on instances and spans: only prefactor_purge_runs removes run data';

-- The row rules of a run (status, purpose, times, id partition) are judged by
-- its guard triggers (instances_10_guard*, src/guard/run_guard.c), which
-- every INSERT, COPY and UPDATE passes and which raise check_violation under
-- the constraint names instances_purpose_check, instances_status_check,
-- instances_times_ordered, instances_finished_when_done,
-- instances_started_unless_pending and instances_id_partition, not by CHECK
-- constraints: PostgreSQL compiles CHECK expressions once per statement, and
-- every run update of live risk scoring is a statement of its own (spans
-- likewise: 21-spans.sql).
CREATE TABLE IF NOT EXISTS instances (
	account_id			pfid NOT NULL,
	id					pfid NOT NULL,
	agent_id			pfid NOT NULL,
	version_id			pfid NOT NULL,
	schema_version_id	pfid NOT NULL,
	environment_id		pfid NOT NULL,
	purpose				text NOT NULL DEFAULT 'live',
	status				text NOT NULL DEFAULT 'pending',
	registered_at		timestamptz NOT NULL DEFAULT now(),
	started_at			timestamptz,
	finished_at			timestamptz,
	termination_reason	text,
	risk_profile_revision_id pfid,
	risk_score			numeric,
	risk_level			risk_level,
	max_classification	data_classification,
	PRIMARY KEY (account_id, id),
	FOREIGN KEY (account_id, agent_id, version_id) REFERENCES agent_versions (account_id, agent_id, id),
	FOREIGN KEY (account_id, agent_id, schema_version_id)
		REFERENCES activity_schema_versions (account_id, agent_id, id),
	FOREIGN KEY (account_id, environment_id) REFERENCES environments,
	FOREIGN KEY (account_id, risk_profile_revision_id) REFERENCES risk_profile_revisions
)
-- A run row is written several times while it runs (its start, each rise of
-- its risk level or classification, its end): the room left on each page
-- keeps those updates on the page (HOT updates), so they add no index entries.
WITH (fillfactor = 70);
COMMENT ON TABLE instances IS
	'One per agent run, stamped with agent, version, schema version, environment and purpose';
COMMENT ON COLUMN instances.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN instances.id IS 'Id: a pfid in its account''s partition';
COMMENT ON COLUMN instances.agent_id IS 'The agent of the run';
COMMENT ON COLUMN instances.version_id IS 'The agent version the run reported';
COMMENT ON COLUMN instances.schema_version_id IS 'The activity schema version its spans are validated against';
COMMENT ON COLUMN instances.environment_id IS 'The environment it ran in';
COMMENT ON COLUMN instances.purpose IS 'live, smoke_test or eval';
COMMENT ON COLUMN instances.status IS 'pending, active (open), complete, failed, cancelled or terminated (finished)';
COMMENT ON COLUMN instances.registered_at IS 'When the run was registered or started';
COMMENT ON COLUMN instances.started_at IS 'When it started; NULL while pending. Never after its first span''s start: an earlier span moves it back';
COMMENT ON COLUMN instances.finished_at IS 'When it finished; NULL while open';
COMMENT ON COLUMN instances.termination_reason IS 'Why it was terminated (by a client or by its risk profile)';
COMMENT ON COLUMN instances.risk_profile_revision_id IS 'The risk profile revision it is scored under; NULL: not scored';
COMMENT ON COLUMN instances.risk_score IS
	'Risk score under the run''s profile revision: final once the run ends; while it is active, as of its last level or classification rise (the exact live score: run_risk_score(run), instance_summary.risk_score); NULL for an unscored run';
COMMENT ON COLUMN instances.risk_level IS 'Its risk band (low, medium, high, critical): exact at every moment';
COMMENT ON COLUMN instances.max_classification IS
	'Highest data classification declared by the span types of this run''s spans (runs with a risk profile only)';
CREATE INDEX IF NOT EXISTS instances_agent_env_started
	ON instances (account_id, agent_id, environment_id, started_at);
-- One agent's runs in start order, newest first, without the environment in
-- between: instance_summary filtered by agent and started_at, and ORDER BY
-- started_at DESC LIMIT n, read this index range directly. Agent ids carry
-- their account's partition, so agent_id alone is selective.
CREATE INDEX IF NOT EXISTS instances_agent_started ON instances (agent_id, started_at);
COMMENT ON INDEX instances_agent_started IS
	'Serves instance_summary filtered by agent and time (last 24 hours, newest first)';
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON instances FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE OR REPLACE TRIGGER instances_10_guard BEFORE INSERT ON instances FOR EACH ROW EXECUTE FUNCTION instances_before_insert();
CREATE OR REPLACE TRIGGER instances_10_guard_update BEFORE UPDATE ON instances FOR EACH ROW EXECUTE FUNCTION instances_before_update();
CREATE OR REPLACE TRIGGER instances_10_guard_delete BEFORE DELETE ON instances FOR EACH ROW EXECUTE FUNCTION run_data_guard_delete();
CREATE OR REPLACE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON instances FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
SELECT pg_catalog.pg_extension_config_dump('instances', '');
-- the ingest role starts and finishes runs
SELECT prefactor.secure_table('instances', '{INSERT,UPDATE}', '{}');

CREATE TABLE IF NOT EXISTS instance_quality (
	account_id	pfid NOT NULL,
	instance_id	pfid NOT NULL,
	name		text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	payload		jsonb NOT NULL,
	recorded_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, instance_id, name),
	FOREIGN KEY (account_id, instance_id) REFERENCES instances ON DELETE CASCADE
);
COMMENT ON TABLE instance_quality IS 'Named quality evaluations recorded on an instance';
COMMENT ON COLUMN instance_quality.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN instance_quality.instance_id IS 'The evaluated run';
COMMENT ON COLUMN instance_quality.name IS 'The evaluation''s name (one payload per name and run)';
COMMENT ON COLUMN instance_quality.payload IS 'The evaluation as the client recorded it';
COMMENT ON COLUMN instance_quality.recorded_at IS 'When it was recorded';
SELECT pg_catalog.pg_extension_config_dump('instance_quality', '');
-- the ingest role records, replaces and removes evaluations
SELECT prefactor.secure_table('instance_quality', '{INSERT,UPDATE,DELETE}', '{}');

-- Durations are derived from the stored times, never stored twice.
CREATE OR REPLACE FUNCTION duration(instances) RETURNS interval
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN $1.finished_at - $1.started_at;
COMMENT ON FUNCTION duration(instances) IS 'Run duration (finished_at - started_at); null while running';

------------------------------------------------------------------------------
-- The run API
------------------------------------------------------------------------------

-- The run start and end are C (src/api/run_api.c), like the span calls: on
-- a Citus worker holding the account (a call Citus delegated there, or a
-- client connected there) their queries run on the account's shards in the
-- shard scope (doc/scale-out.md), and on a plain node the run row is written
-- through the table AM with its triggers, constraints and foreign keys.
-- create_instance is the shared body of the run starts: the agent's version
-- and schema version from what the client sent (created on first sight by
-- ensure_version and ensure_schema_version) or, left out, from what was
-- recorded; the risk profile revision the run is scored under; idempotent
-- retries.
CREATE OR REPLACE FUNCTION create_instance(operation text, account text, agent text, environment text,
								version jsonb, schema jsonb, purpose text, idempotency_key text,
								started_at timestamptz)
	RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_create_instance' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION create_instance(text, text, text, text, jsonb, jsonb, text, text, timestamptz) IS
	'Shared body of prefactor_start_run and prefactor_register_run';

CREATE OR REPLACE FUNCTION prefactor_start_run(account text, agent text, environment text, version jsonb, schema jsonb,
									purpose text DEFAULT 'live', idempotency_key text DEFAULT NULL,
									started_at timestamptz DEFAULT NULL)
	RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_start_run' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION prefactor_start_run(text, text, text, jsonb, jsonb, text, text, timestamptz) IS
	'Starts a run (status active) of the agent in the environment; creates the version and schema version on first sight; returns the instance id. started_at NULL means now().';

-- The run start naming its account by id (doc/scale-out.md, "Calls run on
-- the account's worker"): the same call as prefactor_start_run(account text,
-- ...), whose account may be a name or an id, but with a pfid Citus can hash.
-- prefactor.distribute() makes it a distributed function by that argument,
-- so a Citus coordinator sends the whole run start to the worker holding
-- the account, in one round trip. Calls whose first argument is an untyped
-- literal or text keep resolving to the text form (the string category wins).
CREATE OR REPLACE FUNCTION prefactor_start_run(account pfid, agent text, environment text, version jsonb, schema jsonb,
									purpose text DEFAULT 'live', idempotency_key text DEFAULT NULL,
									started_at timestamptz DEFAULT NULL)
	RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_start_run_by_id' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION prefactor_start_run(pfid, text, text, jsonb, jsonb, text, text, timestamptz) IS
	'Starts a run as prefactor_start_run(account text, ...) does, naming the account by its id: on Citus the call runs whole on the worker holding the account (prefactor.distribute())';

CREATE OR REPLACE FUNCTION prefactor_register_run(account text, agent text, environment text, version jsonb, schema jsonb,
									   purpose text DEFAULT 'live', idempotency_key text DEFAULT NULL)
	RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_register_run' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION prefactor_register_run(text, text, text, jsonb, jsonb, text, text) IS
	'Registers a run (status pending) for a client that starts it later with prefactor_begin_run; returns the instance id';

-- The run lock has one home, in C (src/guard/span_guard.c): the span guard
-- takes it for every span, and the state changes of a run take it here.
CREATE OR REPLACE FUNCTION lock_run(account pfid, instance pfid) RETURNS void
	AS 'MODULE_PATHNAME', 'prefactor_lock_run_sql' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION lock_run(pfid, pfid) IS
	'Takes the run lock (FOR NO KEY UPDATE of the run row) that span inserts and run state changes share; no_data_found if the run does not exist';

-- A run's row by its key, or NULL (src/api/account_query.c: read through the
-- primary key, on Citus from the account's shard when it is on this node).
CREATE OR REPLACE FUNCTION instance_row(account pfid, instance pfid) RETURNS instances
	AS 'MODULE_PATHNAME', 'prefactor_account_query' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION instance_row(pfid, pfid) IS 'The run of this account with this id, or NULL; not locked, not checked';

-- Locks a run's row for a state change and returns it; no_data_found if absent.
CREATE OR REPLACE FUNCTION lock_instance(account pfid, instance pfid) RETURNS prefactor.instances
	LANGUAGE plpgsql
AS $$
BEGIN
	PERFORM prefactor.lock_run(account, instance);
	RETURN prefactor.instance_row(account, instance);
END
$$;
COMMENT ON FUNCTION lock_instance(pfid, pfid) IS 'Locks an instance row for a state change; no_data_found if absent';

CREATE OR REPLACE FUNCTION prefactor_begin_run(instance pfid, started_at timestamptz DEFAULT NULL,
									idempotency_key text DEFAULT NULL)
	RETURNS text
	LANGUAGE plpgsql
AS $$
<<prefactor_begin_run>>
DECLARE
	account_id prefactor.pfid := prefactor.owning_account(instance, 'instance', 'ingest');
	run prefactor.instances;
	prior jsonb;
BEGIN
	prior := prefactor.idempotency_claim(account_id, idempotency_key, 'begin_run',
		jsonb_build_object('instance', instance, 'started_at', started_at));
	IF prior IS NOT NULL THEN
		RETURN prior->>'status';
	END IF;
	run := prefactor.lock_instance(account_id, instance);
	IF run.status <> 'pending' THEN
		RAISE EXCEPTION 'instance % is % and cannot be started', instance, run.status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Only a pending run (from prefactor_register_run) can be started.';
	END IF;
	-- now() as a value: Citus refuses a STABLE function in a COALESCE of an UPDATE
	run.started_at := coalesce(prefactor_begin_run.started_at, now());
	UPDATE prefactor.instances i SET status = 'active', started_at = run.started_at
	 WHERE i.account_id = prefactor_begin_run.account_id AND i.id = instance;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, '{"status": "active"}');
	RETURN 'active';
END prefactor_begin_run
$$;
COMMENT ON FUNCTION prefactor_begin_run(pfid, timestamptz, text) IS
	'Starts a pending run (status active); started_at NULL means now(); returns the new status';

-- Ends a run (C, src/api/run_api.c, as the run start): checks the status
-- change, takes the run lock, chooses the finish time and sets the final
-- status; the run's guard cancels its unfinished spans and stamps its final
-- risk score. Shared by prefactor_finish_run, prefactor_terminate_run and
-- the SDK and OTLP calls.
CREATE OR REPLACE FUNCTION end_instance(operation text, instance pfid, status text, finished_at timestamptz,
							 reason text, idempotency_key text)
	RETURNS text
	AS 'MODULE_PATHNAME', 'prefactor_end_instance' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION end_instance(text, pfid, text, timestamptz, text, text) IS
	'Shared body of prefactor_finish_run and prefactor_terminate_run';

CREATE OR REPLACE FUNCTION prefactor_finish_run(instance pfid, status text DEFAULT 'complete',
									 finished_at timestamptz DEFAULT NULL, idempotency_key text DEFAULT NULL)
	RETURNS text
	AS 'MODULE_PATHNAME', 'prefactor_finish_run' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION prefactor_finish_run(pfid, text, timestamptz, text) IS
	'Finishes a run as complete, failed or cancelled (cancelled also from pending); unfinished spans are cancelled at the same time; returns the status';

CREATE OR REPLACE FUNCTION prefactor_terminate_run(instance pfid, reason text, idempotency_key text DEFAULT NULL)
	RETURNS text
	AS 'MODULE_PATHNAME', 'prefactor_terminate_run' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION prefactor_terminate_run(pfid, text, text) IS
	'Ends a run as terminated with its reason; later span calls store nothing and answer terminate = true with the reason';

CREATE OR REPLACE FUNCTION prefactor_record_quality(instance pfid, name text, payload jsonb,
										 idempotency_key text DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql
AS $$
<<prefactor_record_quality>>
DECLARE
	account_id prefactor.pfid := prefactor.owning_account(instance, 'instance', 'ingest');
BEGIN
	IF prefactor.idempotency_claim(account_id, idempotency_key, 'record_quality',
			jsonb_build_object('instance', instance, 'name', name, 'payload', payload)) IS NOT NULL THEN
		RETURN;
	END IF;
	IF name IS NULL THEN
		RAISE EXCEPTION 'quality name must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM prefactor.lock_instance(account_id, instance);
	IF payload IS NULL THEN
		DELETE FROM prefactor.instance_quality q
		 WHERE q.account_id = prefactor_record_quality.account_id AND q.instance_id = instance
		   AND q.name = prefactor_record_quality.name;
	ELSE
		INSERT INTO prefactor.instance_quality AS q (account_id, instance_id, name, payload)
		VALUES (account_id, instance, name, payload)
		ON CONFLICT ON CONSTRAINT instance_quality_pkey
		DO UPDATE SET payload = excluded.payload, recorded_at = excluded.recorded_at;
	END IF;
	PERFORM prefactor.idempotency_answer(account_id, idempotency_key, '{}');
END prefactor_record_quality
$$;
COMMENT ON FUNCTION prefactor_record_quality(pfid, text, jsonb, text) IS
	'Records the named quality evaluation of a run; a NULL payload removes that name';

CREATE OR REPLACE FUNCTION prefactor_purge_runs(account text, older_than timestamptz)
	RETURNS TABLE (instances bigint, spans bigint)
	LANGUAGE plpgsql
AS $$
<<prefactor_purge_runs>>
DECLARE
	account_id prefactor.pfid := prefactor.resolve_account(account, 'admin');
BEGIN
	IF older_than IS NULL THEN
		RAISE EXCEPTION 'older_than must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- SET LOCAL statements in DO blocks, not set_config(): on Citus the delete
	-- guard runs on the workers, and Citus passes a DO block's SET LOCAL on to
	-- them when citus.propagate_set_commands is local (without Citus that
	-- setting is a mere placeholder).
	PERFORM set_config('citus.propagate_set_commands', 'local', true);
	DO $purging$ BEGIN SET LOCAL prefactor.purging = on; END $purging$;
	-- One statement, no temporary table: this runs as the extension owner, and a
	-- caller's own pg_temp table (with its own triggers) must never be used here.
	-- The spans' foreign keys are NO ACTION, so they are checked at statement end.
	WITH runs AS (
		SELECT i.id FROM prefactor.instances i
		 WHERE i.account_id = prefactor_purge_runs.account_id
		   AND NOT prefactor.status_open(i.status) AND i.finished_at < older_than
		FOR UPDATE
	), gone_spans AS (
		DELETE FROM prefactor.spans s USING runs r
		 WHERE s.account_id = prefactor_purge_runs.account_id AND s.instance_id = r.id
		RETURNING 1
	), gone_runs AS (
		DELETE FROM prefactor.instances i USING runs r
		 WHERE i.account_id = prefactor_purge_runs.account_id AND i.id = r.id
		RETURNING 1
	)
	SELECT (SELECT count(*) FROM gone_runs), (SELECT count(*) FROM gone_spans)
	  INTO prefactor_purge_runs.instances, prefactor_purge_runs.spans;
	DO $purging$ BEGIN SET LOCAL prefactor.purging = off; END $purging$;
	RETURN NEXT;
END prefactor_purge_runs
$$;
COMMENT ON FUNCTION prefactor_purge_runs(text, timestamptz) IS
	'Retention: deletes the account''s whole runs that finished before older_than, with their spans and quality; returns the counts';
