-- Run lifecycle: set-up, automatic versions, runs, spans, idempotency, audit trail.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
CREATE EXTENSION prefactor;
RESET client_min_messages;
SET search_path = prefactor, public;
\set VERBOSITY default
\set SHOW_CONTEXT never
\i test/regress_helpers.sql

SELECT prefactor_create_account('acme') IS NOT NULL AS account_created;
SELECT prefactor_create_environment('acme', 'production') IS NOT NULL AS env_created;
SELECT prefactor_create_environment('acme', 'staging', 'pre-release') IS NOT NULL AS env_created;
SELECT prefactor_register_agent('acme', 'support-bot', 'answers customers') IS NOT NULL AS agent_created;
SELECT prefactor_register_agent('acme', 'idle-bot') IS NOT NULL AS agent_created;

-- Unknown names: no_data_found with a hint naming the function that creates them.
SELECT prefactor_start_run('nobody', 'support-bot', 'production', '{}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT prefactor_start_run('acme', 'ghost', 'production', '{}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT prefactor_start_run('acme', 'support-bot', 'qa', '{}', '{}');
\echo :LAST_ERROR_SQLSTATE
-- An agent with no version yet cannot omit version and schema.
SELECT prefactor_start_run('acme', 'idle-bot', 'production', NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
-- Wrong JSON shapes.
SELECT prefactor_start_run('acme', 'support-bot', 'production', '"v1"', '{}');
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{"external_identifier": 7}', '{}');
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{}', '[]');
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{}', '{"span_type_schemas": {}}');
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{}', '{"span_type_schemas": [{"params_schema": {}}]}');
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{}', '{"span_type_schemas": [{"name": "a"}, {"name": "a"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{}', '{}', purpose => 'demo');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS nothing_left_behind FROM activity_schema_versions;

-- First run: version 1 and schema version 1 are created, span types stored as rows.
SELECT prefactor_start_run('acme', 'support-bot', 'production',
	'{"external_identifier": "v1.0.0", "name": "Support bot", "commit": "abc123"}',
	'{"external_identifier": "s1", "span_type_schemas": [
		{"name": "llm", "params_schema": {"type": "object"}, "result_schema": {"type": "object"}, "description": "a model call"},
		{"name": "tool:search", "params_schema": {"type": "object", "required": ["q"]}}]}') AS run1 \gset
SELECT i.status, i.purpose, i.started_at IS NOT NULL AS started, v.external_identifier, v.name, s.number AS schema_number,
	   e.name AS environment, g.name AS agent
  FROM instances i JOIN agent_versions v ON v.account_id = i.account_id AND v.id = i.version_id
  JOIN activity_schema_versions s ON s.account_id = i.account_id AND s.id = i.schema_version_id
  JOIN environments e ON e.account_id = i.account_id AND e.id = i.environment_id
  JOIN agents g ON g.account_id = i.account_id AND g.id = i.agent_id
 WHERE i.id = :'run1';
SELECT name, description, params_schema FROM span_types ORDER BY name;

-- Key order and whitespace never make a new version or schema version.
SELECT prefactor_start_run('acme', 'support-bot', 'staging',
	'{"commit":"abc123","name":"Support bot","external_identifier":"v1.0.0"}',
	'{"span_type_schemas": [{"description": "a model call", "result_schema": {"type": "object"}, "params_schema": {"type": "object"}, "name": "llm"},
		{"params_schema": {"required": ["q"], "type": "object"}, "name": "tool:search"}], "external_identifier": "s1"}') AS run2 \gset
SELECT (SELECT count(*) FROM agent_versions) AS versions, (SELECT count(*) FROM activity_schema_versions) AS schema_versions;
SELECT a.version_id = b.version_id AS same_version FROM instances a, instances b WHERE a.id = :'run1' AND b.id = :'run2';

-- New metadata with the same schema: a new version paired with schema version 1.
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{"external_identifier": "v1.1.0"}',
	'{"external_identifier": "s1", "span_type_schemas": [
		{"name": "llm", "params_schema": {"type": "object"}, "result_schema": {"type": "object"}, "description": "a model call"},
		{"name": "tool:search", "params_schema": {"type": "object", "required": ["q"]}}]}') IS NOT NULL AS run3;
-- A new schema: schema version 2, and a new version pairing v1.1.0 with it.
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{"external_identifier": "v1.1.0"}',
	'{"external_identifier": "s2", "span_type_schemas": [{"name": "llm"}]}') IS NOT NULL AS run4;
-- Both omitted: the latest version and its schema version.
SELECT prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL) AS run5 \gset
SELECT v.external_identifier, s.number AS schema_number, v.schema_version_id = i.schema_version_id AS paired
  FROM instances i JOIN agent_versions v ON v.account_id = i.account_id AND v.id = i.version_id
  JOIN activity_schema_versions s ON s.account_id = i.account_id AND s.id = i.schema_version_id
 WHERE i.id = :'run5';
SELECT v.external_identifier, s.number AS schema_number, s.external_identifier AS schema
  FROM agent_versions v JOIN activity_schema_versions s ON s.account_id = v.account_id AND s.id = v.schema_version_id
 ORDER BY v.created_at, s.number;
-- Both omitted after v1.2.0 is reported with the older schema s1: the latest version row is reused
-- exactly as recorded (v1.2.0 on s1, not on the newest schema s2), and no version is created.
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{"external_identifier": "v1.2.0"}',
	'{"external_identifier": "s1", "span_type_schemas": [
		{"name": "llm", "params_schema": {"type": "object"}, "result_schema": {"type": "object"}, "description": "a model call"},
		{"name": "tool:search", "params_schema": {"type": "object", "required": ["q"]}}]}') IS NOT NULL AS v12_on_s1;
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{"external_identifier": "v1.1.0"}', NULL) AS v11_run \gset
SELECT (SELECT count(*) FROM agent_versions) AS versions_before \gset
SELECT prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL) AS latest_run \gset
SELECT (SELECT count(*) FROM agent_versions) - :versions_before AS versions_created,
	   i.version_id = (SELECT v.id FROM agent_versions v ORDER BY v.created_at DESC, v.id DESC LIMIT 1) AS latest_version,
	   i.schema_version_id = v.schema_version_id AS its_own_schema, v.metadata, s.external_identifier AS schema
  FROM instances i JOIN agent_versions v ON v.account_id = i.account_id AND v.id = i.version_id
  JOIN activity_schema_versions s ON s.account_id = i.account_id AND s.id = i.schema_version_id
 WHERE i.id = :'latest_run';
-- Only the schema omitted: the latest recorded v1.1.0 with its own schema (s2), nothing created.
SELECT (SELECT count(*) FROM agent_versions) - :versions_before AS versions_created, s.external_identifier AS schema
  FROM instances i JOIN activity_schema_versions s ON s.account_id = i.account_id AND s.id = i.schema_version_id
 WHERE i.id = :'v11_run';

-- Spans: start, finish, one-shot, nesting.
SELECT span_id AS root_span_id, terminate FROM prefactor_start_span(:'run1', 'llm', '{"prompt": "hi"}') \gset
SELECT :'terminate' AS terminate;
SELECT (prefactor_record_span(:'run1', 'tool:search', '{"q": "refund"}', '{"hits": 3}', parent_span => :'root_span_id')).terminate;
SELECT (prefactor_start_span(:'run1', 'llm', '{}', parent_span => :'root_span_id')).span_id AS child \gset
SELECT (prefactor_finish_span(:'child', 'failed', '{"error": "timeout"}')).terminate;
SELECT (prefactor_finish_span(:'root_span_id', result => '{"answer": "ok"}', idempotency_key => 'fin-root')).terminate;
SELECT span_type, status, parent_span_id IS NOT NULL AS nested, result, span_type_id IS NOT NULL AS declared,
	   finished_at >= started_at AS ordered
  FROM spans WHERE instance_id = :'run1' ORDER BY started_at, span_type, status;
-- Finishing a finished span is a conflict; a retry with the same key returns the first answer.
SELECT pg_temp.try(format('SELECT prefactor_finish_span(%L, %L)', :'child', 'complete'));
SELECT (prefactor_finish_span(:'root_span_id', result => '{"answer": "ok"}', idempotency_key => 'fin-root')).span_id = :'root_span_id' AS retried;
\set VERBOSITY terse
SELECT prefactor_finish_span(:'root_span_id', result => '{"answer": "other"}', idempotency_key => 'fin-root');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT prefactor_finish_span(:'root_span_id', 'done');
-- A parent span must belong to the same run.
SELECT pg_temp.try(format('SELECT prefactor_start_span(%L, %L, %L, parent_span => %L)', :'run2', 'llm', '{}', :'root_span_id'));
-- A retried one-shot span that leaves its times out gets the first answer.
SELECT span_id AS once FROM prefactor_record_span(:'run1', 'llm', '{"n": 1}', idempotency_key => 'rec-1') \gset
SELECT span_id = :'once' AS same_span FROM prefactor_record_span(:'run1', 'llm', '{"n": 1}', idempotency_key => 'rec-1');
SELECT count(*) AS stored_once FROM spans WHERE payload = '{"n": 1}';
-- The span calls write their row through the table AM, and run a statement
-- where only a statement will do (statement-level triggers, repeatable read):
-- either way every row trigger, rule and the DBA's own triggers apply.
CREATE TABLE public.span_audit (fired text);
CREATE FUNCTION public.audit_span() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.span_audit VALUES (TG_LEVEL || ' ' || TG_OP);
	RETURN NULL;
END $$;
CREATE TRIGGER audit_row AFTER INSERT OR UPDATE ON spans FOR EACH ROW EXECUTE FUNCTION public.audit_span();
SELECT (prefactor_start_span(:'run1', 'llm', '{"n": 2}')).span_id AS direct_span \gset
SELECT (prefactor_finish_span(:'direct_span', result => '{"ok": true}')).terminate;
CREATE TRIGGER audit_statement AFTER INSERT OR UPDATE ON spans FOR EACH STATEMENT EXECUTE FUNCTION public.audit_span();
SELECT (prefactor_start_span(:'run1', 'llm', '{"n": 3}')).span_id AS statement_span \gset
SELECT (prefactor_finish_span(:'statement_span', result => '{"ok": true}')).terminate;
DROP TRIGGER audit_statement ON spans;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT (prefactor_start_span(:'run1', 'llm', '{"n": 4}')).span_id AS rr_span \gset
SELECT (prefactor_finish_span(:'rr_span', result => '{"ok": true}')).terminate;
COMMIT;
-- a BEFORE ROW trigger that skips the row: nothing stored, so no span id
CREATE FUNCTION public.skip_span() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER skip_span BEFORE INSERT ON spans FOR EACH ROW WHEN (NEW.payload ? 'skip') EXECUTE FUNCTION public.skip_span();
SELECT * FROM prefactor_start_span(:'run1', 'llm', '{"skip": true}');
DROP TRIGGER skip_span ON spans;
DROP TRIGGER audit_row ON spans;
SELECT fired, count(*) FROM public.span_audit GROUP BY fired ORDER BY fired;
SELECT payload, status, result, validation, payload_conforms, result_conforms, span_type_id IS NOT NULL AS declared,
	   finished_at >= started_at AS ordered
  FROM spans WHERE instance_id = :'run1' AND (payload ? 'n' OR payload ? 'skip') ORDER BY payload->>'n';
-- a column default the call leaves to the table: a NULL payload is stored as {}
SELECT (prefactor_start_span(:'run1', 'llm', NULL)).span_id AS default_span \gset
SELECT payload FROM spans WHERE id = :'default_span';
-- Foreign keys hold for a row written through the table AM: the keys of (account_id, id) pairs
-- are checked through their indexes (src/core/key_check.c) instead of by the RI triggers, except
-- the run's, which the call holds locked. A DBA's trigger that points the span elsewhere is
-- refused with the constraint's own error, and so is a run that is not there.
CREATE FUNCTION public.repoint_span() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.payload ? 'type' THEN NEW.span_type_id := pfid_generate(pfid_partition(NEW.account_id)); END IF;
	IF NEW.payload ? 'run' THEN NEW.instance_id := pfid_generate(pfid_partition(NEW.account_id)); END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER zz_repoint_span BEFORE INSERT ON spans FOR EACH ROW EXECUTE FUNCTION public.repoint_span();
\set VERBOSITY terse
SELECT * FROM prefactor_start_span(:'run1', 'llm', '{"type": true}');
SELECT * FROM prefactor_start_span(:'run1', 'llm', '{"run": true}');
\set VERBOSITY default
SELECT (prefactor_start_span(:'run1', 'llm', '{"n": 5}')).span_id IS NOT NULL AS stored_unchanged;
DROP TRIGGER zz_repoint_span ON spans;
DROP TABLE public.span_audit;
DROP FUNCTION public.audit_span(), public.skip_span(), public.repoint_span();
-- An undeclared span type is stored with no span type.
SELECT (prefactor_record_span(:'run1', 'tool:unknown', '{}')).terminate;
SELECT span_type_id IS NULL AS undeclared FROM spans WHERE span_type = 'tool:unknown';
-- Name limits count characters in every encoding: a 200-character name of two-byte characters
-- (400 bytes) is declared and resolved like any other.
SELECT prefactor_start_run('acme', 'support-bot', 'production', '{"external_identifier": "v-long-names"}',
	jsonb_build_object('external_identifier', 's-long', 'span_type_schemas',
		jsonb_build_array(jsonb_build_object('name', repeat('é', 200))))) AS long_run \gset
SELECT (prefactor_record_span(:'long_run', repeat('é', 200), '{}')).span_id IS NOT NULL AS stored;
SELECT octet_length(span_type) AS bytes, span_type_id IS NOT NULL AS declared FROM spans WHERE instance_id = :'long_run';
SELECT pg_temp.try(format('SELECT prefactor_record_span(%L, %L, %L)', :'long_run', repeat('é', 201), '{}'));

-- Idempotent run start: same key, same arguments -> same id, nothing new.
SELECT prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL, idempotency_key => 'run-key-1') AS k1 \gset
SELECT prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL, idempotency_key => 'run-key-1') = :'k1' AS same_instance;
SELECT count(*) AS runs_with_key FROM instances WHERE id = :'k1';
\set VERBOSITY terse
SELECT prefactor_start_run('acme', 'support-bot', 'staging', NULL, NULL, idempotency_key => 'run-key-1');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT prefactor_start_run('acme', 'support-bot', 'staging', NULL, NULL, idempotency_key => repeat('k', 65));
\echo :LAST_ERROR_SQLSTATE

-- Finishing a run cancels its active spans at the same time; the run is then immutable.
SELECT (prefactor_start_span(:'run2', 'llm', '{}')).span_id AS open_span \gset
SELECT prefactor_finish_run(:'run2', 'complete', idempotency_key => 'fin-run2');
SELECT status, finished_at = (SELECT finished_at FROM instances WHERE id = :'run2') AS same_time
  FROM spans WHERE id = :'open_span';
SELECT prefactor_finish_run(:'run2', 'complete', idempotency_key => 'fin-run2') AS retried_finish;
SELECT pg_temp.try(format('SELECT prefactor_finish_run(%L, %L)', :'run2', 'failed'));
SELECT pg_temp.try(format('SELECT prefactor_start_span(%L, %L, %L)', :'run2', 'llm', '{}'));
SELECT pg_temp.try(format('UPDATE instances SET purpose = %L WHERE id = %L', 'eval', :'run2'));
SELECT pg_temp.try(format('UPDATE spans SET result = %L WHERE id = %L', '{}', :'open_span'));
SELECT prefactor_finish_run(:'run2', 'terminated');
-- Finishing a run by a plain UPDATE closes its open spans too; a span of a finished run never
-- changes, through UPDATE or the API.
SELECT prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL) AS run_upd \gset
SELECT (prefactor_start_span(:'run_upd', 'llm', '{}')).span_id AS upd_span \gset
UPDATE instances SET status = 'complete', finished_at = started_at + interval '1 second' WHERE id = :'run_upd';
SELECT s.status, s.finished_at = i.finished_at AS closed_at_run_finish
  FROM spans s JOIN instances i ON i.id = s.instance_id WHERE s.id = :'upd_span';
SELECT pg_temp.try(format('UPDATE spans SET status = %L, finished_at = now() WHERE id = %L', 'complete', :'upd_span'));
SELECT pg_temp.try(format('SELECT prefactor_finish_span(%L, %L, %L)', :'upd_span', 'complete', '{"late": true}'));
SELECT status, result FROM spans WHERE id = :'upd_span';
-- A run cannot finish before an open span started (no time is moved silently).
SELECT prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL) AS run_early \gset
SELECT (prefactor_start_span(:'run_early', 'llm', '{}', started_at => now() + interval '1 minute')).span_id IS NOT NULL AS late_span;
SELECT pg_temp.try(format('SELECT prefactor_finish_run(%L, %L, now())', :'run_early', 'complete'));
SELECT prefactor_finish_run(:'run_early', 'complete');
SELECT i.finished_at = s.started_at AS finished_at_the_open_span_start, s.status
  FROM instances i JOIN spans s ON s.instance_id = i.id WHERE i.id = :'run_early';
-- Stamps of a running instance never change either.
SELECT pg_temp.try(format('UPDATE instances SET environment_id = (SELECT id FROM environments WHERE name = %L) WHERE id = %L', 'staging', :'run1'));
-- Conformance columns are computed, not written.
SELECT (prefactor_start_span(:'run1', 'llm', '{}')).span_id IS NOT NULL AS started_another;
UPDATE spans SET payload_conforms = false WHERE status = 'active' AND instance_id = :'run1';
-- Neither is the risk profile revision a span was scored under.
UPDATE spans SET risk_profile_revision_id = span_type_id WHERE status = 'active' AND instance_id = :'run1';

-- Terminate: span calls store nothing and answer terminate with the reason.
SELECT prefactor_terminate_run(:'run5', 'operator stop: looping');
SELECT * FROM prefactor_start_span(:'run5', 'llm', '{}');
SELECT * FROM prefactor_record_span(:'run5', 'llm', '{}');
SELECT count(*) AS spans_after_terminate FROM spans WHERE instance_id = :'run5';
SELECT prefactor_terminate_run(:'run1', '  ');

-- Times: finite everywhere, kept as sent, a span within its run up to the allowed clock skew.
SELECT pg_temp.try($$SELECT prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL, started_at => 'infinity')$$);
SELECT prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL,
	started_at => now() - interval '1 hour') AS timed_run \gset
SELECT pg_temp.try(format('SELECT prefactor_record_span(%L, %L, %L, started_at => %L)', :'timed_run', 'llm', '{}', '-infinity'));
SELECT pg_temp.try(format('SELECT prefactor_record_span(%L, %L, %L, started_at => now() - interval %L, finished_at => now() - interval %L)',
	:'timed_run', 'llm', '{}', '10 min', '20 min'));
SELECT pg_temp.try(format('SELECT prefactor_record_span(%L, %L, %L, started_at => now() - interval %L)',
	:'timed_run', 'llm', '{}', '3 hours'));
SHOW prefactor.span_clock_skew;
-- the official SDK's first span starts a few milliseconds before its run: within the skew, the
-- span's time is kept as sent and the run's start moves back to it (a run never starts after its
-- first span)
SELECT started_at AS timed_run_start FROM instances WHERE id = :'timed_run' \gset
SELECT (prefactor_record_span(:'timed_run', 'llm', '{"skew": true}', started_at => i.started_at - interval '3 ms',
		finished_at => i.started_at)).span_id IS NOT NULL AS stored
  FROM instances i WHERE i.id = :'timed_run';
SELECT s.started_at = :'timed_run_start'::timestamptz - interval '3 ms' AS start_kept,
	   i.started_at = s.started_at AS run_start_moved_back
  FROM spans s JOIN instances i ON i.id = s.instance_id
 WHERE s.payload = '{"skew": true}';
-- by hand, an active run's start moves back (a span that arrives later may have started earlier),
-- never forward
SELECT pg_temp.try(format('UPDATE instances SET started_at = started_at - interval %L WHERE id = %L', '6 s', :'timed_run'));
SELECT pg_temp.try(format('UPDATE instances SET started_at = started_at + interval %L WHERE id = %L', '1 ms', :'timed_run'));
SELECT started_at = :'timed_run_start'::timestamptz - interval '6.003 s' AS run_start_moved_back_only FROM instances WHERE id = :'timed_run';
SELECT (prefactor_start_span(:'timed_run', 'llm', '{"open": true}')).span_id AS timed_span \gset
SELECT pg_temp.try(format('SELECT prefactor_finish_span(%L, %L, finished_at => now() - interval %L)', :'timed_span', 'complete', '1 day'));
SELECT pg_temp.try(format('SELECT prefactor_finish_span(%L, %L, finished_at => %L)', :'timed_span', 'complete', 'infinity'));
SELECT pg_temp.try(format('SELECT prefactor_finish_run(%L, %L, %L)', :'timed_run', 'complete', 'infinity'));
SELECT pg_temp.try(format('UPDATE instances SET started_at = %L WHERE id = %L', '-infinity', :'timed_run'));
SELECT prefactor_finish_run(:'timed_run');
SELECT count(*) FILTER (WHERE duration IS NOT NULL) AS summarised FROM instance_summary WHERE instance_id = :'timed_run';

-- Blank names and identifiers are refused (22023); NULL arguments raise 22004 as documented.
SELECT pg_temp.try($$SELECT prefactor_create_environment('acme', '   ')$$);
SELECT pg_temp.try($$SELECT prefactor_register_agent('acme', E'\t')$$);
SELECT pg_temp.try($$SELECT prefactor_create_account(NULL)$$);
SELECT doc, pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, %L, %L)', 'acme', 'support-bot', 'production', doc, '{}'))
  FROM (VALUES ('{}'), ('{"external_identifier": ""}'), ('{"external_identifier": null}'), ('{"external_identifier": "  "}')) d(doc);
SELECT pg_temp.try(format('SELECT prefactor_record_span(%L, %L, %L, status => NULL)', :'run1', 'llm', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_finish_run(%L, NULL)', :'run1'));
-- Errors quote at most a short excerpt of what a client sent: reusing an idempotency key with a
-- 5 MB payload names the key and the first call, not the payload.
SELECT (prefactor_record_span(:'run1', 'llm', jsonb_build_object('big', repeat('x', 5000000)), idempotency_key => 'big-1')).span_id IS NOT NULL AS stored;
DO $$
DECLARE
	detail text;
	message text;
BEGIN
	PERFORM prefactor.prefactor_record_span(i.id, 'llm', jsonb_build_object('big', repeat('y', 5000000)), idempotency_key => 'big-1')
	   FROM prefactor.instances i JOIN prefactor.spans s ON s.instance_id = i.id AND s.span_type = 'llm' AND s.payload ? 'big';
	RAISE EXCEPTION 'the second call should have failed';
EXCEPTION WHEN unique_violation THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL, message = MESSAGE_TEXT;
	RAISE NOTICE 'message: %; detail: % characters, ends with "%"', message, length(detail), right(detail, 18);
END
$$;

-- Two-step start: register (pending), then begin; a pending run can only be cancelled.
SELECT prefactor_register_run('acme', 'support-bot', 'staging', NULL, NULL, 'eval') AS pending_run \gset
SELECT status, started_at IS NULL AS not_started FROM instances WHERE id = :'pending_run';
SELECT pg_temp.try(format('SELECT prefactor_start_span(%L, %L, %L)', :'pending_run', 'llm', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_finish_run(%L, %L)', :'pending_run', 'complete'));
SELECT prefactor_begin_run(:'pending_run');
SELECT pg_temp.try(format('SELECT prefactor_begin_run(%L)', :'pending_run'));
SELECT prefactor_register_run('acme', 'support-bot', 'staging', NULL, NULL) AS cancelled_run \gset
SELECT prefactor_finish_run(:'cancelled_run', 'cancelled');
SELECT status, started_at = finished_at AS both_times_set FROM instances WHERE id = :'cancelled_run';

-- Quality evaluations: set, replace, remove.
SELECT prefactor_record_quality(:'run1', 'helpfulness', '{"score": 3}');
SELECT prefactor_record_quality(:'run1', 'helpfulness', '{"score": 4}');
SELECT prefactor_record_quality(:'run1', 'tone', '{"ok": true}');
SELECT name, payload FROM instance_quality ORDER BY name;
SELECT prefactor_record_quality(:'run1', 'tone', NULL);
SELECT name FROM instance_quality ORDER BY name;

-- Plain INSERT goes through the same checks as the functions.
INSERT INTO spans (account_id, instance_id, span_type, payload)
SELECT account_id, id, 'tool:search', '{"q": "bulk"}' FROM instances WHERE id = :'run1';
SELECT span_type_id IS NOT NULL AS declared FROM spans WHERE payload = '{"q": "bulk"}';
SELECT pg_temp.try(format('INSERT INTO spans (account_id, instance_id, span_type) SELECT account_id, id, %L FROM instances WHERE id = %L', 'llm', :'run2'));
INSERT INTO spans (account_id, instance_id, span_type, validation)
SELECT account_id, id, 'llm', 'validated' FROM instances WHERE id = :'run1';

-- The audit trail never changes.
UPDATE agent_versions SET name = 'renamed';
DELETE FROM span_types;
UPDATE activity_schema_versions SET external_identifier = 'x';
TRUNCATE spans;
DELETE FROM spans WHERE instance_id = :'run2';

-- Set-up calls take idempotency keys too: a retry returns the first answer.
SELECT prefactor_create_environment('acme', 'qa', idempotency_key => 'env-qa') AS qa \gset
SELECT prefactor_create_environment('acme', 'qa', idempotency_key => 'env-qa') = :'qa' AS same_environment;
SELECT prefactor_register_agent('acme', 'helper', idempotency_key => 'agent-helper') AS helper \gset
SELECT prefactor_register_agent('acme', 'helper', idempotency_key => 'agent-helper') = :'helper' AS same_agent;
SELECT prefactor_record_quality(:'run1', 'helpfulness', '{"score": 5}', idempotency_key => 'q-1');
SELECT prefactor_record_quality(:'run1', 'helpfulness', '{"score": 5}', idempotency_key => 'q-1');
SELECT payload FROM instance_quality WHERE name = 'helpfulness';
-- Deployments: one active per agent and environment, history kept.
SELECT prefactor_deploy('acme', 'support-bot', 'production', 'v1.0.0') IS NOT NULL AS deployed;
SELECT prefactor_deploy('acme', 'support-bot', 'production', 'v1.1.0') IS NOT NULL AS deployed;
SELECT prefactor_deploy('acme', 'support-bot', 'staging', 'v1.0.0', idempotency_key => 'deploy-1') AS deployment \gset
SELECT prefactor_deploy('acme', 'support-bot', 'staging', 'v1.0.0', idempotency_key => 'deploy-1') = :'deployment' AS same_deployment;
SELECT prefactor_deploy('acme', 'support-bot', 'production', 'v9');
SELECT agent, environment, version FROM live_deployments ORDER BY environment;
SELECT count(*) AS history, count(*) FILTER (WHERE retired_at IS NULL) AS active FROM agent_deployments;

-- Retention: whole finished runs go, with their spans and quality; active runs stay.
SELECT * FROM prefactor_purge_runs('acme', now() + interval '1 minute');
SELECT status, count(*) FROM instances GROUP BY status ORDER BY status;
SELECT count(*) AS orphan_spans FROM spans s WHERE NOT EXISTS
	(SELECT 1 FROM instances i WHERE i.account_id = s.account_id AND i.id = s.instance_id);
SELECT prefactor_purge_runs('acme', NULL);
