------------------------------------------------------------------------------
-- Prefactor's SDK protocol (issue 15), as @prefactor/core 0.2.9 sends it:
-- register, start and finish a run, create and finish a span. One function per
-- HTTP call, taking the ingest token (the bearer), the id of the URL path if
-- any, and the JSON body; each answers (http_status, body) with the SDK's
-- envelopes: {"status": "success", "details": {...}} or {"status": "error",
-- "code": ..., "message": ...}. A gateway, or an application backend that
-- receives the same traffic, calls them and returns what they answer.
--
-- The token binds every call to its account, agent and environment: an id of
-- another account, agent or environment is answered as an unknown id (404).
-- The calls reuse the run and span API (create_instance, prefactor_begin_run,
-- prefactor_finish_run, prefactor_record_span, prefactor_finish_span), so the
-- caller's role needs ingest access to the token's account, as for the token
-- form of prefactor_start_run.
------------------------------------------------------------------------------

CREATE TYPE sdk_answer AS (http_status int, body jsonb);
COMMENT ON TYPE sdk_answer IS
	'Answer of the SDK protocol functions: the HTTP status and the JSON body to send back';

-- The SDK's own ids of each span it created, which make a retry without an
-- idempotency key find the span it already stored. Like spans, rows under a
-- run reference only the run (which implies the account): a second foreign
-- key would be one more check at every SDK span.
CREATE TABLE IF NOT EXISTS sdk_spans (
	account_id		pfid NOT NULL,
	id				pfid NOT NULL,
	instance_id		pfid NOT NULL,
	client_span_id	text,
	trace_id		text,
	error			jsonb,
	PRIMARY KEY (account_id, id),
	FOREIGN KEY (account_id, instance_id) REFERENCES instances ON DELETE CASCADE,
	CONSTRAINT sdk_spans_client_span_id_length CHECK (length(client_span_id) BETWEEN 1 AND 200),
	CONSTRAINT sdk_spans_trace_id_length CHECK (length(trace_id) BETWEEN 1 AND 200)
);
CREATE UNIQUE INDEX IF NOT EXISTS sdk_spans_client_span ON sdk_spans (account_id, instance_id, client_span_id);
COMMENT ON TABLE sdk_spans IS
	'Spans created through the SDK protocol: the SDK''s own span and trace ids (one span per SDK span id and run) and the error of a failed span';
COMMENT ON COLUMN sdk_spans.account_id IS 'The account of the span';
COMMENT ON COLUMN sdk_spans.id IS 'The span (spans.id; no foreign key, so that TRUNCATE spans meets the audit guard; purged with its run)';
COMMENT ON COLUMN sdk_spans.instance_id IS 'The run of the span';
COMMENT ON COLUMN sdk_spans.client_span_id IS 'The SDK''s span id (payload.span_id); unique per run, so a retried create stores nothing twice';
COMMENT ON COLUMN sdk_spans.trace_id IS 'The SDK''s trace id (payload.trace_id), shared by the spans of one tree';
COMMENT ON COLUMN sdk_spans.error IS 'The error of a failed span ({error_type, message, stacktrace}), kept here instead of being checked against result_schema';
SELECT pg_catalog.pg_extension_config_dump('sdk_spans', '');
-- the ingest role's SDK calls record them
SELECT prefactor.secure_table('sdk_spans', '{INSERT,UPDATE}', '{}');

-- Span calls that arrived after their run was terminated: nothing was stored
-- for them in spans, and they are counted here instead of vanishing.
CREATE TABLE IF NOT EXISTS sdk_refused_spans (
	account_id		pfid NOT NULL,
	id				pfid NOT NULL,
	instance_id		pfid NOT NULL,
	operation		text NOT NULL CHECK (operation IN ('create_span', 'finish_span', 'otlp_span')),
	span_id			pfid,
	client_span_id	text,
	trace_id		text,
	span_type		text,
	received_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id),
	FOREIGN KEY (account_id, instance_id) REFERENCES instances ON DELETE CASCADE,
	CONSTRAINT sdk_refused_spans_id_partition CHECK (pfid_partition(id) = pfid_partition(account_id)),
	CONSTRAINT sdk_refused_spans_text_length
		CHECK (length(client_span_id) <= 200 AND length(trace_id) <= 200 AND length(span_type) <= 200)
);
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON sdk_refused_spans FOR EACH ROW EXECUTE FUNCTION assign_id();
-- a retried call is counted once
CREATE UNIQUE INDEX IF NOT EXISTS sdk_refused_spans_once
	ON sdk_refused_spans (account_id, instance_id, operation, coalesce(client_span_id, span_id::text));
COMMENT ON TABLE sdk_refused_spans IS
	'Span calls refused because their run had ended (terminated; for OTLP also finished by its root span): counted per run, never silently lost (a retried call once)';
COMMENT ON COLUMN sdk_refused_spans.account_id IS 'The account of the run';
COMMENT ON COLUMN sdk_refused_spans.id IS 'Id of this record';
COMMENT ON COLUMN sdk_refused_spans.instance_id IS 'The terminated run';
COMMENT ON COLUMN sdk_refused_spans.operation IS 'create_span or finish_span (SDK protocol), otlp_span (an OTLP span, prefactor_otlp_export)';
COMMENT ON COLUMN sdk_refused_spans.span_id IS 'The stored span a refused finish named (NULL for a create)';
COMMENT ON COLUMN sdk_refused_spans.client_span_id IS 'The SDK''s span id of a refused create (payload.span_id); the OTel span id of an OTLP span';
COMMENT ON COLUMN sdk_refused_spans.trace_id IS 'The SDK''s trace id of a refused create (payload.trace_id); the OTel trace id of an OTLP span';
COMMENT ON COLUMN sdk_refused_spans.span_type IS 'The span type (schema_name) of a refused create';
COMMENT ON COLUMN sdk_refused_spans.received_at IS 'When the call arrived';
SELECT pg_catalog.pg_extension_config_dump('sdk_refused_spans', '');
SELECT prefactor.secure_table('sdk_refused_spans', '{INSERT}', '{}');

------------------------------------------------------------------------------
-- Helpers
------------------------------------------------------------------------------

-- The SDK's error envelope for an error this protocol answers, or NULL for
-- any other (which the caller re-raises: a server error, HTTP 500).
CREATE OR REPLACE FUNCTION sdk_error_answer(state text, message text) RETURNS sdk_answer
	LANGUAGE sql IMMUTABLE
	RETURN (SELECT ROW(c.http_status, jsonb_build_object('status', 'error', 'code', c.code, 'message', message))::prefactor.sdk_answer
			  FROM (SELECT CASE WHEN state IN ('28000', '28P01') THEN 401
								WHEN state = '42501' THEN 403
								WHEN state = 'P0002' THEN 404
								WHEN state = '55000' THEN 409
								WHEN state IN ('23505', '23514', '23503', '428C9') THEN 422
								WHEN state LIKE '22%' THEN 400 END AS http_status,
						   CASE WHEN state IN ('28000', '28P01') THEN 'bad_authtoken'
								WHEN state = '42501' THEN 'not_permitted'
								WHEN state = 'P0002' THEN 'not_found'
								WHEN state = '55000' THEN 'invalid_action'
								WHEN state IN ('23505', '23514', '23503', '428C9') THEN 'validation_errors'
								WHEN state LIKE '22%' THEN 'bad_request' END AS code) c
			 WHERE c.http_status IS NOT NULL);
COMMENT ON FUNCTION sdk_error_answer(text, text) IS
	'The SDK error envelope and HTTP status for a SQLSTATE (28000 401 bad_authtoken, 42501 403 not_permitted, P0002 404 not_found, 55000 409 invalid_action, 23xxx 422 validation_errors, 22xxx 400 bad_request); NULL for any other';

-- The body of a call: an object (NULL or JSON null count as {}); raises 22023 otherwise.
-- (C, src/api/sdk_body.c, as sdk_text: each call reads a dozen members.)
CREATE OR REPLACE FUNCTION sdk_body(body jsonb, what text) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_sdk_body' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION sdk_body(jsonb, text) IS
	'The JSON object of a request body or member ({} for NULL or null); invalid_parameter_value for another JSON type';

-- A string member of a body: NULL when absent or null; 22023 for another type.
CREATE OR REPLACE FUNCTION sdk_text(body jsonb, key text) RETURNS text
	AS 'MODULE_PATHNAME', 'prefactor_sdk_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION sdk_text(jsonb, text) IS
	'A string member of a request body (NULL when absent or null); invalid_parameter_value for another JSON type';

-- A time member of a body (ISO 8601): NULL when absent; 22007 when malformed.
CREATE OR REPLACE FUNCTION sdk_time(body jsonb, key text) RETURNS timestamptz
	LANGUAGE plpgsql STABLE
AS $$
DECLARE
	t text := prefactor.sdk_text(body, key);
BEGIN
	RETURN t::timestamptz;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
	RAISE EXCEPTION '% is not a time: %', key, prefactor.excerpt(t)
		USING ERRCODE = 'invalid_datetime_format', HINT = 'Send ISO 8601, for example 2025-01-01T12:00:00.000Z.';
END
$$;
COMMENT ON FUNCTION sdk_time(jsonb, text) IS
	'A time member of a request body (ISO 8601; NULL when absent); invalid_datetime_format when malformed';

-- The activity schema document of the SDK's agent_schema_version. The older
-- form, maps span_schemas (type -> params schema) and span_result_schemas
-- (type -> result schema), becomes span_type_schemas, sorted by name; as on
-- the platform, a type without a result schema there gets one requiring an
-- empty object, and span_type_schemas wins over the maps when both are sent.
CREATE OR REPLACE FUNCTION sdk_schema_document(schema jsonb) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
	params jsonb := nullif(schema->'span_schemas', 'null');
	results jsonb := coalesce(nullif(schema->'span_result_schemas', 'null'), '{}');
BEGIN
	IF schema IS NULL OR jsonb_typeof(schema) <> 'object' THEN
		RETURN schema;	-- check_schema_document refuses what is not an object
	END IF;
	IF nullif(schema->'span_type_schemas', 'null') IS NOT NULL OR params IS NULL THEN
		RETURN schema - 'span_schemas' - 'span_result_schemas';
	END IF;
	IF jsonb_typeof(params) <> 'object' OR jsonb_typeof(results) <> 'object' THEN
		RAISE EXCEPTION 'agent_schema_version.span_schemas and span_result_schemas must be objects mapping span types to JSON Schemas'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM jsonb_object_keys(results) k WHERE NOT params ? k) THEN
		RAISE EXCEPTION 'agent_schema_version.span_result_schemas names a span type that span_schemas does not declare'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN (schema - 'span_schemas' - 'span_result_schemas')
		|| jsonb_build_object('span_type_schemas',
			  (SELECT coalesce(jsonb_agg(jsonb_build_object('name', p.key, 'params_schema', p.value,
								'result_schema', coalesce(results->p.key, '{"type": "object", "maxProperties": 0}'))
							 ORDER BY p.key), '[]')
				 FROM jsonb_each(params) p));
END
$$;
COMMENT ON FUNCTION sdk_schema_document(jsonb) IS
	'The activity schema document of an SDK agent_schema_version: the older span_schemas / span_result_schemas maps become span_type_schemas (a missing result schema requires an empty object)';

-- A failed span's result that is the SDK's error object {error_type, message, stacktrace}.
CREATE OR REPLACE FUNCTION sdk_is_error(result jsonb) RETURNS boolean
	LANGUAGE sql IMMUTABLE
	RETURN jsonb_typeof(result) = 'object' AND result ? 'error_type' AND result ? 'message'
		   AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(result) k
							WHERE k NOT IN ('error_type', 'message', 'stacktrace'));
COMMENT ON FUNCTION sdk_is_error(jsonb) IS
	'Whether a result is the SDK''s error object {error_type, message, stacktrace} (nothing else)';

-- The queries of one account's rows the SDK bodies make, as functions
-- (src/api/account_query.c): on Citus each runs in the account's shard scope,
-- reading and writing its shards directly on the worker that holds them,
-- instead of being one more statement for Citus to plan and route.

-- The SDK's view of a run.
CREATE OR REPLACE FUNCTION sdk_instance_details(account pfid, instance pfid) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_account_query' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION sdk_instance_details(pfid, pfid) IS 'A run as the SDK protocol answers it (type agent_instance)';

-- The SDK's view of a span.
CREATE OR REPLACE FUNCTION sdk_span_details(account pfid, span pfid) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_account_query' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION sdk_span_details(pfid, pfid) IS 'A span as the SDK protocol answers it (type agent_span)';

-- A span of the account by id; NULL if none.
CREATE OR REPLACE FUNCTION sdk_span(account pfid, span pfid) RETURNS spans
	AS 'MODULE_PATHNAME', 'prefactor_account_query' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION sdk_span(pfid, pfid) IS 'The span of this account with this id, or NULL';

-- The span the SDK created in a run under its own span id; NULL if none.
CREATE OR REPLACE FUNCTION sdk_client_span(account pfid, run pfid, client_span_id text) RETURNS pfid
	AS 'MODULE_PATHNAME', 'prefactor_account_query' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION sdk_client_span(pfid, pfid, text) IS
	'The id of the span created in a run under the SDK''s span id, or NULL (a retry finds its span)';

-- Records the SDK's ids or error of a span; an existing row keeps its ids and
-- takes the error only when replace_error. True when a row was written.
CREATE OR REPLACE FUNCTION sdk_note_span(account pfid, span pfid, run pfid, client_span_id text, trace_id text,
										 error jsonb, replace_error boolean) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prefactor_account_query' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION sdk_note_span(pfid, pfid, pfid, text, text, jsonb, boolean) IS
	'Stores a span''s SDK span and trace ids and error (sdk_spans); on a retry the row stays, its error replaced only when replace_error';

-- The run an id names if it belongs to the token's account, agent and
-- environment, locked for the call; no_data_found for any other id, exactly
-- as for an unknown one.
CREATE OR REPLACE FUNCTION sdk_bound_instance(t ingest_tokens, instance text) RETURNS instances
	LANGUAGE plpgsql
AS $$
<<sdk_bound_instance>>
DECLARE
	id prefactor.pfid := prefactor.try_pfid(instance);
	row prefactor.instances;
BEGIN
	-- the run lock (lock_instance raises no_data_found for a run of no account's
	-- or another account's), then the run: of the token's agent and environment
	IF id IS NOT NULL THEN
		row := prefactor.lock_instance(t.account_id, id);
	END IF;
	IF row.id IS NULL OR row.agent_id <> t.agent_id OR row.environment_id <> t.environment_id THEN
		RAISE EXCEPTION 'instance % does not exist', prefactor.excerpt(instance) USING ERRCODE = 'no_data_found';
	END IF;
	RETURN row;
END sdk_bound_instance
$$;
COMMENT ON FUNCTION sdk_bound_instance(ingest_tokens, text) IS
	'The run an id names, locked, if it is of the token''s account, agent and environment; no_data_found otherwise, as for an unknown id';

-- A success answer, with the control signal when the run was terminated.
-- STABLE, as jsonb_build_object is: PostgreSQL inlines a SQL function only
-- when its body is no more volatile than the function, and an SDK call that
-- ran it as a function instead read and planned its body every time.
CREATE OR REPLACE FUNCTION sdk_success(details jsonb, terminate boolean DEFAULT false, reason text DEFAULT NULL)
	RETURNS sdk_answer
	LANGUAGE sql STABLE
	RETURN ROW(200, jsonb_build_object('status', 'success', 'details', details)
				|| CASE WHEN terminate THEN jsonb_build_object('control',
						jsonb_build_object('terminate', true, 'reason', reason)) ELSE '{}' END)::prefactor.sdk_answer;
COMMENT ON FUNCTION sdk_success(jsonb, boolean, text) IS
	'The SDK success envelope {status, details}, with control {terminate, reason} when the run was terminated';

-- A refused span call on a terminated run: counted, and answered as a
-- conflict that carries the terminate signal.
CREATE OR REPLACE FUNCTION sdk_refuse_span(run instances, operation text, span pfid, client_span_id text, trace_id text,
								span_type text)
	RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
BEGIN
	INSERT INTO prefactor.sdk_refused_spans
		(account_id, instance_id, operation, span_id, client_span_id, trace_id, span_type)
	VALUES (run.account_id, run.id, operation, span, left(client_span_id, 200), left(trace_id, 200),
			left(span_type, 200))
	ON CONFLICT DO NOTHING;
	RETURN ROW(409, jsonb_build_object('status', 'error', 'code', 'invalid_action',
		'message', format('instance %s was terminated; the span call was counted, not stored', run.id),
		'control', jsonb_build_object('terminate', true, 'reason', run.termination_reason)))::prefactor.sdk_answer;
END
$$;
COMMENT ON FUNCTION sdk_refuse_span(instances, text, pfid, text, text, text) IS
	'Counts a span call refused because its run was terminated (sdk_refused_spans, once per retried call) and answers 409 with the terminate signal';

------------------------------------------------------------------------------
-- The calls. Each body function gets the checked token row and raises; its
-- public wrapper checks the token and turns the errors the protocol knows
-- into the SDK's error envelope.
------------------------------------------------------------------------------

-- POST /agent_instance/register
CREATE OR REPLACE FUNCTION sdk_register(t ingest_tokens, body jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
DECLARE
	b jsonb := prefactor.sdk_body(body, 'body');
	id prefactor.pfid;
BEGIN
	-- a token names its deployment; ids of another agent or environment are unknown to it
	IF prefactor.sdk_text(b, 'agent_id') IS DISTINCT FROM t.agent_id::text AND b->>'agent_id' IS NOT NULL THEN
		RAISE EXCEPTION 'agent % does not exist', prefactor.excerpt(b->>'agent_id') USING ERRCODE = 'no_data_found';
	END IF;
	IF prefactor.sdk_text(b, 'environment_id') IS DISTINCT FROM t.environment_id::text AND b->>'environment_id' IS NOT NULL THEN
		RAISE EXCEPTION 'environment % does not exist', prefactor.excerpt(b->>'environment_id') USING ERRCODE = 'no_data_found';
	END IF;
	-- registered, not started: the SDK starts it with its own call
	id := prefactor.create_instance('register_run', t.account_id::text, t.agent_id::text, t.environment_id::text,
									nullif(b->'agent_version', 'null'),
									prefactor.sdk_schema_document(nullif(b->'agent_schema_version', 'null')),
									coalesce(prefactor.sdk_text(b, 'purpose'), 'live'),
									prefactor.sdk_text(b, 'idempotency_key'), NULL);
	UPDATE prefactor.ingest_tokens k SET last_used_at = now()
	 WHERE k.account_id = t.account_id AND k.id = t.id
	   AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute');
	RETURN prefactor.sdk_success(prefactor.sdk_instance_details(t.account_id, id));
END
$$;
COMMENT ON FUNCTION sdk_register(ingest_tokens, jsonb) IS 'Body of prefactor_sdk_register';

-- POST /agent_instance/{id}/start
CREATE OR REPLACE FUNCTION sdk_start(t ingest_tokens, instance text, body jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
DECLARE
	b jsonb := prefactor.sdk_body(body, 'body');
	run prefactor.instances := prefactor.sdk_bound_instance(t, instance);
	started timestamptz := prefactor.sdk_time(b, 'timestamp');
BEGIN
	-- a retry of a start that succeeded (its answer was lost) gets the same answer
	IF run.status = 'active' AND (started IS NULL OR started = run.started_at) THEN
		RETURN prefactor.sdk_success(prefactor.sdk_instance_details(run.account_id, run.id));
	END IF;
	PERFORM prefactor.prefactor_begin_run(run.id, started, prefactor.sdk_text(b, 'idempotency_key'));
	RETURN prefactor.sdk_success(prefactor.sdk_instance_details(run.account_id, run.id));
END
$$;
COMMENT ON FUNCTION sdk_start(ingest_tokens, text, jsonb) IS 'Body of prefactor_sdk_start';

-- POST /agent_instance/{id}/finish
CREATE OR REPLACE FUNCTION sdk_finish(t ingest_tokens, instance text, body jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
DECLARE
	b jsonb := prefactor.sdk_body(body, 'body');
	run prefactor.instances := prefactor.sdk_bound_instance(t, instance);
BEGIN
	IF run.status = 'terminated' THEN
		RETURN ROW(409, jsonb_build_object('status', 'error', 'code', 'invalid_action',
			'message', format('instance %s was terminated', run.id),
			'control', jsonb_build_object('terminate', true, 'reason', run.termination_reason)))::prefactor.sdk_answer;
	END IF;
	PERFORM prefactor.prefactor_finish_run(run.id, coalesce(prefactor.sdk_text(b, 'status'), 'complete'),
										   prefactor.sdk_time(b, 'timestamp'), prefactor.sdk_text(b, 'idempotency_key'));
	RETURN prefactor.sdk_success(prefactor.sdk_instance_details(run.account_id, run.id));
END
$$;
COMMENT ON FUNCTION sdk_finish(ingest_tokens, text, jsonb) IS 'Body of prefactor_sdk_finish';

-- POST /agent_spans
CREATE OR REPLACE FUNCTION sdk_create_span(t ingest_tokens, body jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
<<sdk_create_span>>
DECLARE
	b jsonb := prefactor.sdk_body(body, 'body');
	d jsonb := prefactor.sdk_body(coalesce(b->'details', b), 'details');
	run prefactor.instances := prefactor.sdk_bound_instance(t, prefactor.sdk_text(d, 'agent_instance_id'));
	payload jsonb := prefactor.sdk_body(d->'payload', 'details.payload');
	client_span_id text := prefactor.sdk_text(payload, 'span_id');
	trace_id text := prefactor.sdk_text(payload, 'trace_id');
	span_type text := prefactor.sdk_text(d, 'schema_name');
	status text := coalesce(prefactor.sdk_text(d, 'status'), 'active');
	result jsonb := nullif(d->'result_payload', 'null');
	error jsonb;
	parent_text text := prefactor.sdk_text(d, 'parent_span_id');
	parent prefactor.pfid;
	parent_span prefactor.spans;
	prior prefactor.pfid;
	ack prefactor.span_ack;
BEGIN
	-- a retry (the SDK sends no idempotency key; its own span id is in the payload)
	prior := prefactor.sdk_client_span(run.account_id, run.id, client_span_id);
	IF prior IS NOT NULL THEN
		RETURN prefactor.sdk_success(prefactor.sdk_span_details(run.account_id, prior),
									 run.status = 'terminated', run.termination_reason);
	END IF;
	IF run.status = 'terminated' THEN
		RETURN prefactor.sdk_refuse_span(run, 'create_span', NULL, client_span_id, trace_id, span_type);
	END IF;
	IF parent_text IS NOT NULL THEN
		-- the SDK sends our id of the parent; one of another run is unknown to this run
		parent_span := prefactor.sdk_span(run.account_id, prefactor.try_pfid(parent_text));
		IF parent_span.instance_id IS DISTINCT FROM run.id THEN
			RAISE EXCEPTION 'parent span % does not exist', prefactor.excerpt(parent_text) USING ERRCODE = 'no_data_found';
		END IF;
		parent := parent_span.id;
	END IF;
	-- a failed span's error is recorded as its error, not judged as its result
	IF status = 'failed' AND prefactor.sdk_is_error(result) THEN
		error := result;
		result := NULL;
	ELSIF status = 'failed' THEN
		error := nullif(payload->'error', 'null');
	END IF;
	ack := prefactor.prefactor_record_span(run.id, span_type, payload, result, status, parent,
										   prefactor.sdk_time(d, 'started_at'), prefactor.sdk_time(d, 'finished_at'),
										   prefactor.sdk_text(b, 'idempotency_key'));
	IF ack.span_id IS NULL THEN	-- the run was terminated as the span arrived
		RETURN prefactor.sdk_refuse_span(run, 'create_span', NULL, client_span_id, trace_id, span_type);
	END IF;
	-- a retry with the same idempotency key finds the row stored
	PERFORM prefactor.sdk_note_span(run.account_id, ack.span_id, run.id, client_span_id, trace_id, error, false);
	RETURN prefactor.sdk_success(prefactor.sdk_span_details(run.account_id, ack.span_id), ack.terminate, ack.reason);
END sdk_create_span
$$;
COMMENT ON FUNCTION sdk_create_span(ingest_tokens, jsonb) IS 'Body of prefactor_sdk_create_span';

-- POST /agent_spans/{id}/finish
CREATE OR REPLACE FUNCTION sdk_finish_span(t ingest_tokens, span text, body jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
<<sdk_finish_span>>
DECLARE
	b jsonb := prefactor.sdk_body(body, 'body');
	span_id prefactor.pfid := prefactor.try_pfid(span);
	instance_id prefactor.pfid;
	span_status text;
	run prefactor.instances;
	status text := coalesce(prefactor.sdk_text(b, 'status'), 'complete');
	result jsonb := nullif(b->'result_payload', 'null');
	error jsonb;
	ack prefactor.span_ack;
BEGIN
	instance_id := (prefactor.sdk_span(t.account_id, span_id)).instance_id;
	IF instance_id IS NULL THEN
		RAISE EXCEPTION 'span % does not exist', prefactor.excerpt(span) USING ERRCODE = 'no_data_found';
	END IF;
	BEGIN
		run := prefactor.sdk_bound_instance(t, instance_id::text);
	EXCEPTION WHEN no_data_found THEN
		RAISE EXCEPTION 'span % does not exist', prefactor.excerpt(span) USING ERRCODE = 'no_data_found';
	END;
	-- read once the run is locked: nothing finishes the span meanwhile
	span_status := (prefactor.sdk_span(t.account_id, span_id)).status;
	IF run.status = 'terminated' THEN
		RETURN prefactor.sdk_refuse_span(run, 'finish_span', span_id, NULL, NULL, NULL);
	END IF;
	IF span_status NOT IN ('pending', 'active') THEN
		-- the SDK creates a span when it ends and may finish it after: a harmless conflict
		RETURN ROW(409, jsonb_build_object('status', 'error', 'code', 'invalid_action',
			'message', format('span %s is already finished (%s)', span_id, span_status)))::prefactor.sdk_answer;
	END IF;
	IF status = 'failed' AND prefactor.sdk_is_error(result) THEN
		error := result;
		result := NULL;
	END IF;
	ack := prefactor.prefactor_finish_span(span_id, status, result, prefactor.sdk_time(b, 'timestamp'),
										   prefactor.sdk_text(b, 'idempotency_key'));
	IF error IS NOT NULL THEN
		PERFORM prefactor.sdk_note_span(run.account_id, span_id, run.id, NULL, NULL, error, true);
	END IF;
	RETURN prefactor.sdk_success(prefactor.sdk_span_details(run.account_id, span_id), ack.terminate, ack.reason);
END sdk_finish_span
$$;
COMMENT ON FUNCTION sdk_finish_span(ingest_tokens, text, jsonb) IS 'Body of prefactor_sdk_finish_span';

------------------------------------------------------------------------------
-- The public functions: the errors the protocol knows become its error
-- envelope (with nothing stored); any other error is raised.
------------------------------------------------------------------------------
-- The one way a call by ingest token is answered, for the SDK protocol and
-- OTLP (operation otlp_export) alike: no token is 401; the token row binds
-- the call; an error the protocol knows becomes its answer (sdk_error_answer,
-- or otlp_error_answer for OTLP), any other is raised for the gateway's 500.
CREATE OR REPLACE FUNCTION sdk_call(operation text, token text, id text, body jsonb, account pfid DEFAULT NULL)
	RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
DECLARE
	answer prefactor.sdk_answer;
	t prefactor.ingest_tokens;
BEGIN
	IF token IS NULL THEN
		RETURN CASE WHEN operation = 'otlp_export'
			THEN ROW(401, '{"code": 16, "message": "an ingest token is required (Authorization: Bearer pft_...)"}')::prefactor.sdk_answer
			ELSE ROW(401, '{"status": "error", "code": "not_authenticated", "message": "an ingest token is required"}')::prefactor.sdk_answer END;
	END IF;
	t := prefactor.ingest_token_row(token);
	IF account IS NOT NULL AND t.account_id <> account THEN
		RAISE EXCEPTION 'the ingest token is not one of this account''s' USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	CASE operation
		WHEN 'register' THEN RETURN prefactor.sdk_register(t, body);
		WHEN 'start' THEN RETURN prefactor.sdk_start(t, id, body);
		WHEN 'finish' THEN RETURN prefactor.sdk_finish(t, id, body);
		WHEN 'create_span' THEN RETURN prefactor.sdk_create_span(t, body);
		WHEN 'finish_span' THEN RETURN prefactor.sdk_finish_span(t, id, body);
		WHEN 'otlp_export' THEN RETURN prefactor.otlp_export(t, body);
		ELSE RAISE EXCEPTION 'unknown SDK operation "%"', left(operation, 40) USING ERRCODE = 'invalid_parameter_value',
			HINT = 'One of register, start, finish, create_span, finish_span, otlp_export.';
	END CASE;
EXCEPTION WHEN OTHERS THEN
	answer := CASE WHEN operation = 'otlp_export' THEN prefactor.otlp_error_answer(SQLSTATE, SQLERRM)
				   ELSE prefactor.sdk_error_answer(SQLSTATE, SQLERRM) END;
	IF answer IS NULL THEN
		RAISE;
	END IF;
	RETURN answer;
END
$$;
COMMENT ON FUNCTION sdk_call(text, text, text, jsonb, pfid) IS
	'Shared body of the prefactor_sdk_* functions and prefactor_otlp_export: checks the token (and that it is the given account''s, if one is given), calls the operation, answers known errors in the protocol''s error envelope (the SDK''s, or OTLP''s Status)';

-- The SDK protocol and OTLP by account: what a caller that knows the token's
-- account (prefactor-gateway, after prefactor_token_account) calls. On Citus it is a
-- distributed function by the account (prefactor.distribute()), so the whole
-- call runs on the account's worker in one round trip; the prefactor_sdk_*
-- functions by token alone cannot be delegated.
CREATE OR REPLACE FUNCTION prefactor_sdk_call(account pfid, operation text, token text, id text, body jsonb)
	RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
BEGIN
	RETURN prefactor.sdk_call(operation, token, id, body, account);
END
$$;
COMMENT ON FUNCTION prefactor_sdk_call(pfid, text, text, text, jsonb) IS
	'SDK protocol and OTLP by account: operation register, start, finish, create_span or finish_span with the token, the path''s id (start, finish: the run; finish_span: the span; else NULL) and the body, as the prefactor_sdk_* functions, or otlp_export with the request, as prefactor_otlp_export; a token of another account answers 401. On Citus delegated whole to the account''s worker.';

-- The account of a valid token, NULL for any other text: a caller routes the
-- token's calls by it (prefactor_sdk_call). The secret is checked, so the
-- answer tells nothing to someone without the token.
CREATE OR REPLACE FUNCTION prefactor_token_account(token text) RETURNS pfid
	LANGUAGE plpgsql STABLE
AS $$
BEGIN
	RETURN (prefactor.ingest_token_row(token)).account_id;
EXCEPTION WHEN invalid_authorization_specification OR null_value_not_allowed THEN
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION prefactor_token_account(text) IS
	'The account of a valid ingest token (unknown, wrong, revoked or expired: NULL), to route its calls by (prefactor_sdk_call)';

CREATE OR REPLACE FUNCTION prefactor_sdk_register(token text, body jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
BEGIN
	RETURN prefactor.sdk_call('register', token, NULL, body);
END
$$;
COMMENT ON FUNCTION prefactor_sdk_register(text, jsonb) IS
	'SDK protocol, POST /agent_instance/register: registers a run (pending until prefactor_sdk_start) of the token''s agent in its environment; the older schema form (span_schemas / span_result_schemas) becomes span types. Answers (http_status, body) in the SDK''s envelopes.';

CREATE OR REPLACE FUNCTION prefactor_sdk_start(token text, instance text, body jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
BEGIN
	RETURN prefactor.sdk_call('start', token, instance, body);
END
$$;
COMMENT ON FUNCTION prefactor_sdk_start(text, text, jsonb) IS
	'SDK protocol, POST /agent_instance/{id}/start: starts a pending run at body.timestamp (else now); a retry of a done start answers the same. Answers (http_status, body) in the SDK''s envelopes.';

CREATE OR REPLACE FUNCTION prefactor_sdk_finish(token text, instance text, body jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
BEGIN
	RETURN prefactor.sdk_call('finish', token, instance, body);
END
$$;
COMMENT ON FUNCTION prefactor_sdk_finish(text, text, jsonb) IS
	'SDK protocol, POST /agent_instance/{id}/finish: finishes a run as body.status (complete, failed, cancelled) at body.timestamp; a finished run is a 409 conflict. Answers (http_status, body) in the SDK''s envelopes.';

CREATE OR REPLACE FUNCTION prefactor_sdk_create_span(token text, body jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
BEGIN
	RETURN prefactor.sdk_call('create_span', token, NULL, body);
END
$$;
COMMENT ON FUNCTION prefactor_sdk_create_span(text, jsonb) IS
	'SDK protocol, POST /agent_spans: records the span of body.details; the SDK''s span id makes a retry store nothing twice; a failed span''s error object is kept as its error; on a terminated run the span is counted in sdk_refused_spans and answered 409 with the terminate signal. Answers (http_status, body) in the SDK''s envelopes.';

CREATE OR REPLACE FUNCTION prefactor_sdk_finish_span(token text, span text, body jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
BEGIN
	RETURN prefactor.sdk_call('finish_span', token, span, body);
END
$$;
COMMENT ON FUNCTION prefactor_sdk_finish_span(text, text, jsonb) IS
	'SDK protocol, POST /agent_spans/{id}/finish: finishes an open span; a finished span is the 409 conflict the SDK treats as harmless; on a terminated run counted in sdk_refused_spans. Answers (http_status, body) in the SDK''s envelopes.';

