------------------------------------------------------------------------------
-- OpenTelemetry traces (issue 15): OTLP/HTTP POST /v1/traces with a JSON
-- body (ExportTraceServiceRequest), answered as one SQL call,
-- prefactor_otlp_export(token, request) -> (http_status, body). A gateway, or
-- an application backend that receives the same traffic, calls it.
--
-- Mapping (doc/reference.md, "OpenTelemetry"):
-- - The bearer is an ingest token: it binds the call to its account, agent
--   and environment. A resource whose service.name names another agent, or
--   whose deployment.environment.name (or the older deployment.environment)
--   names another environment, has its spans rejected (counted in the
--   partial-success answer); an absent service.name (or the SDKs' default
--   unknown_service...) and an absent environment mean the token's.
-- - service.version is the run's version (created on first sight, as
--   prefactor_start_run does); without it, the agent's latest version.
-- - One run per trace id (and agent), created on first sight, active, found
--   again by its trace id (otlp_traces); its start moves back to the earliest
--   span that arrives. The trace's root span (no parentSpanId, or a parent
--   flagged remote) ending finishes the run at its end time, failed if the
--   root failed; spans of the trace arriving after that are rejected and
--   counted, as are spans of a run terminated by risk (sdk_refused_spans).
-- - Span type: gen_ai.operation.name (invoke_agent, chat, ...), execute_tool
--   as execute_tool:<gen_ai.tool.name>; a span without one is typed by its name.
-- - payload {name, kind, attributes, input}, result {output, usage, error}:
--   input from gen_ai.input.messages (older gen_ai.prompt, indexed
--   gen_ai.prompt.N.*, tool call arguments), output likewise, usage from
--   gen_ai.usage.* (prompt/completion tokens as input/output tokens).
-- - Status ERROR is a failed span with its message (or its exception
--   event's); times are unix nanoseconds; the parent link is made when the
--   parent arrives, in this request or a later one (spans.parent_ref).
-- - A redelivered span (same account, trace and span id) stores nothing.
-- - A request that does not decode (not an object, wrong member types, bad
--   ids, absurd times, a parent cycle) is refused whole: 400, nothing stored.
------------------------------------------------------------------------------

-- A span may arrive before its parent: it keeps the client's id of the parent
-- until that arrives, and the span guard lets that one link be made later
-- (src/guard/span_guard.c).
ALTER TABLE spans ADD COLUMN parent_ref text;
CREATE INDEX spans_awaiting_parent ON spans (account_id, instance_id, parent_ref) WHERE parent_ref IS NOT NULL;
COMMENT ON COLUMN spans.parent_ref IS
	'The client''s id of a parent span not stored yet (OTLP: the parent''s span id); parent_span_id is set and this cleared when it arrives';

-- The run of each trace.
CREATE TABLE otlp_traces (
	account_id		pfid NOT NULL REFERENCES accounts,
	trace_id		text NOT NULL,
	agent_id		pfid NOT NULL,
	instance_id		pfid NOT NULL,
	PRIMARY KEY (account_id, trace_id, agent_id),
	UNIQUE (account_id, instance_id),
	FOREIGN KEY (account_id, agent_id) REFERENCES agents,
	FOREIGN KEY (account_id, instance_id) REFERENCES instances ON DELETE CASCADE,
	CONSTRAINT otlp_traces_trace_id_hex CHECK (trace_id ~ '^[0-9a-f]{32}$')
);
COMMENT ON TABLE otlp_traces IS
	'The run of each OpenTelemetry trace (per agent): created when the trace''s first span arrives, found again by its trace id';
COMMENT ON COLUMN otlp_traces.account_id IS 'The account of the run';
COMMENT ON COLUMN otlp_traces.trace_id IS 'The OTel trace id, 32 lower-case hex digits';
COMMENT ON COLUMN otlp_traces.agent_id IS 'The agent (resource service.name, the token''s agent) whose part of the trace the run is';
COMMENT ON COLUMN otlp_traces.instance_id IS 'The run';
SELECT pg_catalog.pg_extension_config_dump('otlp_traces', '');

-- The OTel ids of each span stored from OTLP.
CREATE TABLE otlp_spans (
	account_id		pfid NOT NULL,
	id				pfid NOT NULL,
	instance_id		pfid NOT NULL,
	trace_id		text NOT NULL,
	span_id			text NOT NULL,
	parent_span_id	text,
	PRIMARY KEY (account_id, id),
	FOREIGN KEY (account_id, instance_id) REFERENCES instances ON DELETE CASCADE,
	CONSTRAINT otlp_spans_ids_hex
		CHECK (trace_id ~ '^[0-9a-f]{32}$' AND span_id ~ '^[0-9a-f]{16}$' AND parent_span_id ~ '^[0-9a-f]{16}$')
);
-- a redelivered span is found here and stored nothing twice
CREATE UNIQUE INDEX otlp_spans_otel_id ON otlp_spans (account_id, trace_id, span_id);
COMMENT ON TABLE otlp_spans IS
	'Spans stored from OTLP with their OTel ids: one span per account, trace id and span id, so a redelivered batch stores nothing twice';
COMMENT ON COLUMN otlp_spans.account_id IS 'The account of the span';
COMMENT ON COLUMN otlp_spans.id IS 'The span (spans.id; no foreign key, so that TRUNCATE spans meets the audit guard; purged with its run)';
COMMENT ON COLUMN otlp_spans.instance_id IS 'The run of the span (the trace''s run, otlp_traces)';
COMMENT ON COLUMN otlp_spans.trace_id IS 'The OTel trace id, 32 lower-case hex digits';
COMMENT ON COLUMN otlp_spans.span_id IS 'The OTel span id, 16 lower-case hex digits';
COMMENT ON COLUMN otlp_spans.parent_span_id IS 'The OTel span id of its parent (NULL for a root); spans.parent_span_id once that is stored, spans.parent_ref until then';
SELECT pg_catalog.pg_extension_config_dump('otlp_spans', '');

SELECT prefactor.secure_table('otlp_traces', '{INSERT}', '{}');
SELECT prefactor.secure_table('otlp_spans', '{INSERT}', '{}');

-- A span of a request, decoded (otlp_decode_span).
CREATE TYPE otlp_span AS (
	resource_no		int,		-- position in resourceSpans (1-based)
	problem			text,		-- why the span does not decode (NULL: it does)
	trace_id		text,
	span_id			text,
	parent_id		text,		-- NULL for a root
	root			boolean,	-- no parent, or a parent flagged remote
	span_type		text,
	status			text,
	started_at		timestamptz,
	finished_at		timestamptz,
	payload			jsonb,
	result			jsonb
);
COMMENT ON TYPE otlp_span IS 'A span of an OTLP request as prefactor stores it (internal to prefactor_otlp_export)';

------------------------------------------------------------------------------
-- Decoding OTLP/JSON
------------------------------------------------------------------------------

-- An AnyValue as plain JSON: strings, numbers (intValue is an int64, often
-- sent as a string), booleans, arrays and key-value lists as objects;
-- bytesValue stays base64 text; anything else is null.
-- (A string body: a SQL-standard one cannot call itself.)
CREATE FUNCTION otlp_value(v jsonb) RETURNS jsonb
	LANGUAGE sql IMMUTABLE
AS $$
	SELECT CASE
		WHEN jsonb_typeof(v) IS DISTINCT FROM 'object' THEN 'null'::jsonb
		WHEN v ? 'stringValue' THEN v->'stringValue'
		WHEN v ? 'intValue' THEN
			CASE WHEN jsonb_typeof(v->'intValue') = 'number' THEN v->'intValue'
				 WHEN (v->>'intValue') ~ '^-?[0-9]{1,19}$' THEN to_jsonb((v->>'intValue')::numeric)
				 ELSE v->'intValue' END
		WHEN v ? 'boolValue' THEN v->'boolValue'
		WHEN v ? 'doubleValue' THEN v->'doubleValue'
		WHEN v ? 'arrayValue' THEN
			(SELECT coalesce(jsonb_agg(prefactor.otlp_value(e.value) ORDER BY e.ordinality), '[]')
			   FROM jsonb_array_elements(CASE WHEN jsonb_typeof(v->'arrayValue'->'values') = 'array'
											  THEN v->'arrayValue'->'values' ELSE '[]' END) WITH ORDINALITY e)
		WHEN v ? 'kvlistValue' THEN
			(SELECT coalesce(jsonb_object_agg(e->>'key', prefactor.otlp_value(e->'value')), '{}')
			   FROM jsonb_array_elements(CASE WHEN jsonb_typeof(v->'kvlistValue'->'values') = 'array'
											  THEN v->'kvlistValue'->'values' ELSE '[]' END) e
			  WHERE jsonb_typeof(e->'key') = 'string')
		WHEN v ? 'bytesValue' THEN v->'bytesValue'
		ELSE 'null'::jsonb END
$$;
COMMENT ON FUNCTION otlp_value(jsonb) IS
	'An OTLP AnyValue as plain JSON (kvlistValue as an object, arrayValue as an array, intValue as a number)';

-- A list of KeyValue as one object (the last of a repeated key wins);
-- invalid_parameter_value unless it is an array of {key, value} objects.
CREATE FUNCTION otlp_attributes(attributes jsonb, what text) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
	result jsonb;
BEGIN
	IF attributes IS NULL OR attributes = 'null' THEN
		RETURN '{}';
	END IF;
	IF jsonb_typeof(attributes) <> 'array' THEN
		RAISE EXCEPTION '% must be an array of {key, value}, not %', what, jsonb_typeof(attributes)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT jsonb_object_agg(a->>'key', prefactor.otlp_value(a->'value') ORDER BY o)
			   FILTER (WHERE jsonb_typeof(a->'key') = 'string'),
		   bool_and(jsonb_typeof(a->'key') = 'string')
	  INTO result
	  FROM jsonb_array_elements(attributes) WITH ORDINALITY x(a, o);
	IF result IS NULL AND jsonb_array_length(attributes) > 0
	   OR EXISTS (SELECT FROM jsonb_array_elements(attributes) a WHERE jsonb_typeof(a->'key') IS DISTINCT FROM 'string') THEN
		RAISE EXCEPTION '% must be an array of {key, value} with string keys', what
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN coalesce(result, '{}');
END
$$;
COMMENT ON FUNCTION otlp_attributes(jsonb, text) IS
	'OTLP attributes (an array of {key, value}) as one JSON object; invalid_parameter_value for another shape';

-- A message attribute: instrumentations send JSON as a string; it is kept
-- parsed when it parses, else as the string.
CREATE FUNCTION otlp_json_text(v jsonb) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
	IF jsonb_typeof(v) = 'string' AND (v#>>'{}') ~ '^\s*[\[{]' THEN
		RETURN (v#>>'{}')::jsonb;
	END IF;
	RETURN v;
EXCEPTION WHEN invalid_text_representation OR program_limit_exceeded OR statement_too_complex THEN
	RETURN v;
END
$$;
COMMENT ON FUNCTION otlp_json_text(jsonb) IS
	'A message attribute sent as JSON text, parsed (kept as the string when it does not parse)';

-- Unix nanoseconds (a string of digits or an integral JSON number, within
-- uint64) as a time; NULL when it is not one, 0 (unset) included.
CREATE FUNCTION otlp_time(v jsonb) RETURNS timestamptz
	LANGUAGE sql IMMUTABLE
	RETURN (SELECT timestamptz '1970-01-01 00:00:00+00' + floor(n / 1000)::bigint * interval '1 microsecond'
			  FROM (SELECT CASE WHEN jsonb_typeof(v) = 'string' AND (v#>>'{}') ~ '^[0-9]{1,20}$' THEN (v#>>'{}')::numeric
								WHEN jsonb_typeof(v) = 'number' AND v::numeric = trunc(v::numeric) THEN v::numeric
						   END AS n) x
			 WHERE n > 0 AND n <= 18446744073709551615);
COMMENT ON FUNCTION otlp_time(jsonb) IS
	'OTLP unix nanoseconds (string or integral number, 1 to 2^64-1) as a timestamptz (microseconds); NULL otherwise';

-- An OTel id: hex digits of the given length, not all zero, lower-cased;
-- NULL when it is not one.
CREATE FUNCTION otlp_id(v jsonb, hex_digits int) RETURNS text
	LANGUAGE sql IMMUTABLE
	RETURN CASE WHEN jsonb_typeof(v) = 'string' AND length(v#>>'{}') = hex_digits
				 AND (v#>>'{}') ~ '^[0-9a-fA-F]*$' AND (v#>>'{}') !~ '^0*$'
			   THEN lower(v#>>'{}') END;
COMMENT ON FUNCTION otlp_id(jsonb, int) IS
	'An OTLP/JSON trace id (32) or span id (16): hex digits, not all zero, lower-cased; NULL otherwise';

-- One span of a request as prefactor stores it; problem says why it does
-- not decode. What each GenAI attribute becomes: see the head of this file.
CREATE FUNCTION otlp_decode_span(resource_no int, span jsonb) RETURNS otlp_span
	LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
	s prefactor.otlp_span;
	attrs jsonb;
	moved jsonb;
	kind text;
	code text;
	message text;
	op text;
	indexed jsonb;
	flags numeric;
BEGIN
	s.resource_no := resource_no;
	IF jsonb_typeof(span) IS DISTINCT FROM 'object' THEN
		s.problem := 'a span must be a JSON object';
		RETURN s;
	END IF;
	s.trace_id := prefactor.otlp_id(span->'traceId', 32);
	s.span_id := prefactor.otlp_id(span->'spanId', 16);
	s.parent_id := prefactor.otlp_id(span->'parentSpanId', 16);
	s.started_at := prefactor.otlp_time(span->'startTimeUnixNano');
	s.finished_at := prefactor.otlp_time(span->'endTimeUnixNano');
	s.problem := CASE
		WHEN s.trace_id IS NULL THEN format('traceId must be 32 hex digits, not all zero, not %s', prefactor.excerpt(coalesce((span->'traceId')::text, 'absent')))
		WHEN s.span_id IS NULL THEN format('spanId must be 16 hex digits, not all zero, not %s', prefactor.excerpt(coalesce((span->'spanId')::text, 'absent')))
		WHEN s.parent_id IS NULL AND coalesce(span->>'parentSpanId', '') <> '' AND span->'parentSpanId' <> 'null'
			THEN format('parentSpanId must be empty or 16 hex digits, not %s', prefactor.excerpt((span->'parentSpanId')::text))
		WHEN s.parent_id = s.span_id THEN 'a span cannot be its own parent'
		WHEN s.started_at IS NULL THEN format('startTimeUnixNano must be unix nanoseconds (1 to 2^64-1), not %s', prefactor.excerpt(coalesce((span->'startTimeUnixNano')::text, 'absent')))
		WHEN s.finished_at IS NULL THEN format('endTimeUnixNano must be unix nanoseconds (1 to 2^64-1), not %s', prefactor.excerpt(coalesce((span->'endTimeUnixNano')::text, 'absent')))
		WHEN s.finished_at < s.started_at THEN 'endTimeUnixNano is before startTimeUnixNano'
		WHEN jsonb_typeof(span->'name') NOT IN ('string', 'null') THEN 'name must be a string'
		WHEN jsonb_typeof(span->'status') NOT IN ('object', 'null') THEN 'status must be an object'
		WHEN jsonb_typeof(span->'events') NOT IN ('array', 'null') THEN 'events must be an array'
		WHEN jsonb_typeof(span->'flags') NOT IN ('number', 'null') THEN 'flags must be a number' END;
	IF s.problem IS NOT NULL THEN
		RETURN s;
	END IF;
	attrs := prefactor.otlp_attributes(span->'attributes', 'span attributes');
	-- remote parent: flags has SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE (0x100) and _IS_REMOTE (0x200)
	flags := coalesce((span->>'flags')::numeric, 0);
	s.root := s.parent_id IS NULL OR (flags >= 0 AND flags < 4294967296 AND (flags::bigint & 768) = 768);
	kind := CASE span->>'kind' WHEN '1' THEN 'internal' WHEN '2' THEN 'server' WHEN '3' THEN 'client'
							   WHEN '4' THEN 'producer' WHEN '5' THEN 'consumer'
							   WHEN 'SPAN_KIND_INTERNAL' THEN 'internal' WHEN 'SPAN_KIND_SERVER' THEN 'server'
							   WHEN 'SPAN_KIND_CLIENT' THEN 'client' WHEN 'SPAN_KIND_PRODUCER' THEN 'producer'
							   WHEN 'SPAN_KIND_CONSUMER' THEN 'consumer' ELSE 'unspecified' END;
	code := span->'status'->>'code';
	s.status := CASE WHEN code IN ('2', 'STATUS_CODE_ERROR') THEN 'failed' ELSE 'complete' END;

	-- the span type
	op := attrs->>'gen_ai.operation.name';
	s.span_type := left(CASE WHEN op = 'execute_tool' AND coalesce(attrs->>'gen_ai.tool.name', '') <> ''
							 THEN 'execute_tool:' || (attrs->>'gen_ai.tool.name')
							 WHEN coalesce(op, '') <> '' THEN op
							 ELSE coalesce(nullif(span->>'name', ''), 'span') END, 200);

	-- messages, tool calls and usage leave the attributes for input and result
	SELECT jsonb_object_agg(k, v) INTO moved FROM jsonb_each(attrs) a(k, v)
	 WHERE k IN ('gen_ai.input.messages', 'gen_ai.output.messages', 'gen_ai.prompt', 'gen_ai.completion',
				 'gen_ai.tool.call.arguments', 'gen_ai.tool.call.result')
		OR k LIKE 'gen\_ai.usage.%' OR k ~ '^gen_ai\.(prompt|completion)\.[0-9]+\.';
	IF moved IS NOT NULL THEN
		attrs := attrs - ARRAY(SELECT jsonb_object_keys(moved));
		IF EXISTS (SELECT FROM jsonb_object_keys(moved) k WHERE k ~ '^gen_ai\.(prompt|completion)\.[0-9]+\.') THEN
			-- OpenLLMetry's older form: gen_ai.prompt.0.role, gen_ai.prompt.0.content, ...
			SELECT jsonb_object_agg(part, messages) INTO indexed FROM (
				SELECT part, jsonb_agg(message ORDER BY n) AS messages FROM (
					SELECT m[1] AS part, m[2]::int AS n, jsonb_object_agg(m[3], v) AS message
					  FROM jsonb_each(moved) e(k, v), regexp_match(k, '^gen_ai\.(prompt|completion)\.([0-9]{1,6})\.(.+)$') m
					 WHERE m IS NOT NULL GROUP BY 1, 2) x
				 GROUP BY part) y;
		END IF;
		s.payload := jsonb_strip_nulls(jsonb_build_object('input',
			coalesce(prefactor.otlp_json_text(moved->'gen_ai.input.messages'), prefactor.otlp_json_text(moved->'gen_ai.prompt'),
					 indexed->'prompt', prefactor.otlp_json_text(moved->'gen_ai.tool.call.arguments'))));
		s.result := jsonb_strip_nulls(jsonb_build_object(
			'output', coalesce(prefactor.otlp_json_text(moved->'gen_ai.output.messages'),
							   prefactor.otlp_json_text(moved->'gen_ai.completion'), indexed->'completion',
							   prefactor.otlp_json_text(moved->'gen_ai.tool.call.result')),
			'usage', (SELECT jsonb_object_agg(CASE substr(k, 14) WHEN 'prompt_tokens' THEN 'input_tokens'
															   WHEN 'completion_tokens' THEN 'output_tokens'
															   ELSE substr(k, 14) END, v)
						FROM jsonb_each(moved) e(k, v) WHERE k LIKE 'gen\_ai.usage.%')));
	END IF;
	s.payload := jsonb_build_object('name', coalesce(span->>'name', ''), 'kind', kind, 'attributes', attrs)
				 || coalesce(s.payload, '{}');
	IF s.status = 'failed' THEN
		message := nullif(span->'status'->>'message', '');
		IF message IS NULL THEN
			-- the exception event's message, as instrumentations record errors
			SELECT prefactor.otlp_attributes(e->'attributes', 'event attributes')->>'exception.message' INTO message
			  FROM jsonb_array_elements(coalesce(nullif(span->'events', 'null'), '[]')) e
			 WHERE e->>'name' = 'exception' LIMIT 1;
		END IF;
		s.result := coalesce(s.result, '{}') || jsonb_build_object('error', jsonb_build_object('message', message));
	END IF;
	IF s.result = '{}' THEN
		s.result := NULL;
	END IF;
	RETURN s;
END
$$;
COMMENT ON FUNCTION otlp_decode_span(int, jsonb) IS
	'One OTLP/JSON span as prefactor stores it: ids, times, span type, status, payload and result (problem says why it does not decode)';

-- The OTLP error answer (a google.rpc.Status: {code, message}) for a
-- SQLSTATE the protocol knows, or NULL for any other (raised: a 500).
CREATE FUNCTION otlp_error_answer(state text, message text) RETURNS sdk_answer
	LANGUAGE sql IMMUTABLE
	RETURN CASE WHEN state IN ('28000', '28P01') THEN ROW(401, jsonb_build_object('code', 16, 'message', message))::prefactor.sdk_answer
				WHEN state = '42501' THEN ROW(403, jsonb_build_object('code', 7, 'message', message))::prefactor.sdk_answer
				WHEN state LIKE '22%' OR state IN ('54001', '23514') THEN ROW(400, jsonb_build_object('code', 3, 'message', message))::prefactor.sdk_answer
		   END;
COMMENT ON FUNCTION otlp_error_answer(text, text) IS
	'The OTLP error answer (Status {code, message}) for a SQLSTATE: 28000 401, 42501 403, 22xxx, 23514 and 54001 (too deep) 400; NULL for any other';

------------------------------------------------------------------------------
-- The export
------------------------------------------------------------------------------

-- The body of prefactor_otlp_export: raises for a request that does not decode.
CREATE FUNCTION otlp_export(t ingest_tokens, request jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
<<otlp_export>>
DECLARE
	resource_spans jsonb;
	item jsonb;
	scope jsonb;
	r int := 0;
	q int;
	attrs jsonb;
	agent_name text;
	environment_name text;
	service text;
	environment text;
	res_reason text[] := '{}';
	res_version text[] := '{}';
	spans prefactor.otlp_span[] := '{}';
	decoded prefactor.otlp_span[];
	problem text;
	rejected bigint := 0;
	messages text[] := '{}';
	n bigint;
	trace record;
	run prefactor.instances;
	run_id prefactor.pfid;
	version jsonb;
	schema jsonb;
	runs jsonb := '{}';			-- trace id -> run id, of the runs taking spans
	partition int := prefactor.pfid_partition(t.account_id);
	stored bigint;
BEGIN
	PERFORM prefactor.require_access(t.account_id, 'ingest', 'the token''s account');
	IF request IS NULL OR jsonb_typeof(request) <> 'object' THEN
		RAISE EXCEPTION 'the request must be a JSON object (ExportTraceServiceRequest), not %',
			coalesce(jsonb_typeof(request), 'empty') USING ERRCODE = 'invalid_parameter_value';
	END IF;
	resource_spans := nullif(request->'resourceSpans', 'null');
	IF resource_spans IS NULL THEN
		RETURN ROW(200, '{}')::prefactor.sdk_answer;
	END IF;
	IF jsonb_typeof(resource_spans) <> 'array' THEN
		RAISE EXCEPTION 'resourceSpans must be an array, not %', jsonb_typeof(resource_spans)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT g.name, e.name INTO agent_name, environment_name
	  FROM prefactor.agents g, prefactor.environments e
	 WHERE g.account_id = t.account_id AND g.id = t.agent_id AND e.account_id = t.account_id AND e.id = t.environment_id;

	-- Each resource: its shape, whose it is, and its spans decoded.
	FOR item IN SELECT x FROM jsonb_array_elements(resource_spans) x LOOP
		r := r + 1;
		IF jsonb_typeof(item) <> 'object' OR jsonb_typeof(item->'resource') NOT IN ('object', 'null')
		   OR jsonb_typeof(item->'scopeSpans') NOT IN ('array', 'null') THEN
			RAISE EXCEPTION 'resourceSpans[%] must be an object with a resource object and a scopeSpans array', r - 1
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		attrs := prefactor.otlp_attributes(item->'resource'->'attributes', format('resourceSpans[%s].resource.attributes', r - 1));
		service := attrs->>'service.name';
		environment := coalesce(attrs->>'deployment.environment.name', attrs->>'deployment.environment');
		res_reason[r] := CASE
			WHEN service IS NOT NULL AND service <> agent_name AND service NOT LIKE 'unknown\_service%' THEN
				format('service.name %s is not the token''s agent %s', prefactor.excerpt(service), agent_name)
			WHEN environment IS NOT NULL AND environment <> environment_name THEN
				format('deployment.environment.name %s is not the token''s environment %s',
					   prefactor.excerpt(environment), environment_name) END;
		res_version[r] := left(attrs->>'service.version', 200);
		q := 0;
		FOR scope IN SELECT x FROM jsonb_array_elements(coalesce(nullif(item->'scopeSpans', 'null'), '[]')) x LOOP
			IF jsonb_typeof(scope) <> 'object' OR jsonb_typeof(scope->'spans') NOT IN ('array', 'null') THEN
				RAISE EXCEPTION 'resourceSpans[%].scopeSpans[%] must be an object with a spans array', r - 1, q
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			SELECT array_agg(prefactor.otlp_decode_span(r, x) ORDER BY o) INTO decoded
			  FROM jsonb_array_elements(coalesce(nullif(scope->'spans', 'null'), '[]')) WITH ORDINALITY s(x, o);
			SELECT format('resourceSpans[%s].scopeSpans[%s].spans[%s]: %s', r - 1, q, d.ordinality - 1, d.problem) INTO problem
			  FROM unnest(decoded) WITH ORDINALITY d WHERE d.problem IS NOT NULL ORDER BY d.ordinality LIMIT 1;
			IF problem IS NOT NULL THEN
				RAISE EXCEPTION '%', problem USING ERRCODE = 'invalid_parameter_value';
			END IF;
			spans := spans || coalesce(decoded, '{}');
			q := q + 1;
		END LOOP;
	END LOOP;

	-- parent links inside the request never form a cycle
	WITH RECURSIVE s AS (SELECT DISTINCT ON (trace_id, span_id) trace_id, span_id, parent_id FROM unnest(spans)),
	walk(trace_id, start, at, steps) AS (
		SELECT trace_id, span_id, parent_id, 1 FROM s WHERE parent_id IS NOT NULL
		UNION ALL
		SELECT w.trace_id, w.start, p.parent_id, w.steps + 1
		  FROM walk w JOIN s p ON p.trace_id = w.trace_id AND p.span_id = w.at
		 WHERE w.at <> w.start AND p.parent_id IS NOT NULL AND w.steps <= cardinality(spans)
	)
	SELECT format('span %s of trace %s is its own ancestor', start, trace_id) INTO problem
	  FROM walk WHERE at = start LIMIT 1;
	IF problem IS NOT NULL THEN
		RAISE EXCEPTION 'the spans'' parent links form a cycle: %', problem USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- spans of another agent's or environment's resource are rejected
	SELECT count(*), min(res_reason[s.resource_no]) INTO n, problem
	  FROM unnest(spans) s WHERE res_reason[s.resource_no] IS NOT NULL;
	IF n > 0 THEN
		rejected := rejected + n;
		messages := messages || format('%s span(s) rejected: %s', n, problem);
	END IF;

	-- The run of each trace: found, or created at its earliest span's start;
	-- an earlier span moves an active run's start back.
	FOR trace IN
		SELECT s.trace_id, min(s.started_at) AS started_at,
			   (array_agg(res_version[s.resource_no] ORDER BY s.resource_no))[1] AS version
		  FROM unnest(spans) s WHERE res_reason[s.resource_no] IS NULL
		 GROUP BY s.trace_id ORDER BY s.trace_id
	LOOP
		-- one creator per trace: a concurrent first batch of the trace waits here
		PERFORM pg_advisory_xact_lock(hashtextextended(t.account_id::text || trace.trace_id, 15));
		run_id := NULL;
		SELECT o.instance_id INTO run_id FROM prefactor.otlp_traces o
		 WHERE o.account_id = t.account_id AND o.trace_id = trace.trace_id AND o.agent_id = t.agent_id;
		IF run_id IS NULL THEN
			version := CASE WHEN trace.version IS NOT NULL THEN jsonb_build_object('external_identifier', trace.version) END;
			schema := NULL;
			-- what the trace leaves out comes from the agent's latest version and schema version
			IF NOT EXISTS (SELECT FROM prefactor.activity_schema_versions v
							WHERE v.account_id = t.account_id AND v.agent_id = t.agent_id) THEN
				schema := '{"external_identifier": "otlp", "span_type_schemas": []}';
			END IF;
			IF version IS NULL AND NOT EXISTS (SELECT FROM prefactor.agent_versions v
												WHERE v.account_id = t.account_id AND v.agent_id = t.agent_id) THEN
				version := '{"external_identifier": "unknown"}';
			END IF;
			run_id := prefactor.create_instance('start_run', t.account_id::text, t.agent_id::text,
												t.environment_id::text, version, schema, 'live', NULL, trace.started_at);
			INSERT INTO prefactor.otlp_traces (account_id, trace_id, agent_id, instance_id)
			VALUES (t.account_id, trace.trace_id, t.agent_id, run_id);
			runs := runs || jsonb_build_object(trace.trace_id, run_id);
			CONTINUE;
		END IF;
		run := prefactor.lock_instance(t.account_id, run_id);
		IF run.status = 'active' THEN
			IF run.started_at > trace.started_at THEN
				UPDATE prefactor.instances i SET started_at = trace.started_at
				 WHERE i.account_id = t.account_id AND i.id = run_id;
			END IF;
			runs := runs || jsonb_build_object(trace.trace_id, run_id);
		ELSE
			-- an ended run takes no spans: the new ones are counted, not stored
			WITH refused AS (
				INSERT INTO prefactor.sdk_refused_spans
					(account_id, instance_id, operation, client_span_id, trace_id, span_type)
				SELECT DISTINCT ON (s.span_id) t.account_id, run_id, 'otlp_span', s.span_id, s.trace_id, s.span_type
				  FROM unnest(spans) s
				 WHERE s.trace_id = trace.trace_id AND res_reason[s.resource_no] IS NULL
				   AND NOT EXISTS (SELECT FROM prefactor.otlp_spans o
									WHERE o.account_id = t.account_id AND o.trace_id = s.trace_id AND o.span_id = s.span_id)
				ON CONFLICT DO NOTHING RETURNING 1)
			SELECT count(*) INTO n FROM unnest(spans) s
			 WHERE s.trace_id = trace.trace_id AND res_reason[s.resource_no] IS NULL
			   AND NOT EXISTS (SELECT FROM prefactor.otlp_spans o
								WHERE o.account_id = t.account_id AND o.trace_id = s.trace_id AND o.span_id = s.span_id);
			IF n > 0 THEN
				rejected := rejected + n;
				messages := messages || format('%s span(s) of trace %s rejected: its run %s is %s%s', n, trace.trace_id,
											   run.id, run.status, coalesce(' (' || run.termination_reason || ')', ''));
			END IF;
		END IF;
	END LOOP;

	-- The new spans, stored in one statement: ids made first, so that a
	-- parent in the same request is linked as the span is stored.
	stored := prefactor.otlp_store_spans(t.account_id, partition, spans, res_reason, runs);
	IF stored < 0 THEN
		-- a run was terminated by risk while its spans were stored: the rest are counted
		n := -stored;
		rejected := rejected + n;
		messages := messages || format('%s span(s) rejected: their run was terminated', n);
	END IF;

	-- Spans that awaited a parent stored now are linked to it.
	UPDATE prefactor.spans c SET parent_span_id = o.id, parent_ref = NULL
	  FROM prefactor.otlp_spans o
	 WHERE c.account_id = t.account_id AND c.parent_ref IS NOT NULL
	   AND c.instance_id = o.instance_id AND c.parent_ref = o.span_id
	   AND o.account_id = t.account_id
	   AND (o.trace_id, o.span_id) IN (SELECT s.trace_id, s.span_id FROM unnest(spans) s)
	   AND o.instance_id IN (SELECT (value#>>'{}')::prefactor.pfid FROM jsonb_each(runs));

	-- The root span ending finishes its run (failed if the root failed).
	FOR trace IN
		SELECT (runs->>s.trace_id)::prefactor.pfid AS run_id, max(s.finished_at) AS finished_at,
			   bool_or(s.status = 'failed') AS failed
		  FROM unnest(spans) s
		 WHERE s.root AND runs ? s.trace_id AND res_reason[s.resource_no] IS NULL
		   AND EXISTS (SELECT FROM prefactor.otlp_spans o
						WHERE o.account_id = t.account_id AND o.trace_id = s.trace_id AND o.span_id = s.span_id)
		 GROUP BY 1
	LOOP
		SELECT * INTO run FROM prefactor.instances i WHERE i.account_id = t.account_id AND i.id = trace.run_id;
		IF run.status = 'active' THEN
			PERFORM prefactor.end_instance('finish_run', trace.run_id,
										   CASE WHEN trace.failed THEN 'failed' ELSE 'complete' END,
										   greatest(trace.finished_at, run.started_at), NULL, NULL);
		END IF;
	END LOOP;

	UPDATE prefactor.ingest_tokens k SET last_used_at = now()
	 WHERE k.account_id = t.account_id AND k.id = t.id
	   AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute');
	IF rejected > 0 THEN
		RETURN ROW(200, jsonb_build_object('partialSuccess', jsonb_build_object('rejectedSpans', rejected,
					'errorMessage', left(array_to_string(messages, '; '), 2000))))::prefactor.sdk_answer;
	END IF;
	RETURN ROW(200, '{}')::prefactor.sdk_answer;
END otlp_export
$$;
COMMENT ON FUNCTION otlp_export(ingest_tokens, jsonb) IS 'Body of prefactor_otlp_export';

-- The request's new spans (not rejected, not stored before, of a run in
-- runs), with their ids made now and their parents resolved: a parent in the
-- request or stored before is linked; one not seen yet is awaited
-- (parent_ref). depth orders parents before children.
CREATE FUNCTION otlp_new_spans(account pfid, partition int, spans otlp_span[], res_reason text[], runs jsonb)
	RETURNS TABLE (id pfid, instance_id pfid, parent_span_id pfid, parent_ref text, depth int, s otlp_span)
	LANGUAGE sql VOLATILE
BEGIN ATOMIC
	WITH RECURSIVE fresh AS MATERIALIZED (
		SELECT DISTINCT ON (x.trace_id, x.span_id) x AS s, (runs->>x.trace_id)::prefactor.pfid AS instance_id,
			   prefactor.pfid_generate(partition, x.started_at) AS id
		  FROM unnest(spans) x
		 WHERE res_reason[x.resource_no] IS NULL AND runs ? x.trace_id
		   AND NOT EXISTS (SELECT FROM prefactor.otlp_spans o
							WHERE o.account_id = account AND o.trace_id = x.trace_id AND o.span_id = x.span_id)
		 ORDER BY x.trace_id, x.span_id
	), linked AS (
		SELECT f.id, f.instance_id, coalesce(p.id, o.id) AS parent_span_id,
			   CASE WHEN NOT (f.s).root AND p.id IS NULL AND o.id IS NULL THEN (f.s).parent_id END AS parent_ref,
			   p.id AS batch_parent, f.s
		  FROM fresh f
		  LEFT JOIN fresh p ON NOT (f.s).root AND (p.s).trace_id = (f.s).trace_id AND (p.s).span_id = (f.s).parent_id
		  LEFT JOIN prefactor.otlp_spans o
			ON NOT (f.s).root AND o.account_id = account AND o.trace_id = (f.s).trace_id
		   AND o.span_id = (f.s).parent_id AND o.instance_id = f.instance_id
	), levels AS (
		SELECT l.id, 0 AS depth FROM linked l WHERE l.batch_parent IS NULL
		UNION ALL
		SELECT l.id, v.depth + 1 FROM levels v JOIN linked l ON l.batch_parent = v.id
	)
	SELECT l.id, l.instance_id, l.parent_span_id, l.parent_ref, v.depth, l.s
	  FROM linked l JOIN levels v ON v.id = l.id
	 ORDER BY v.depth, (l.s).started_at;
END;
COMMENT ON FUNCTION otlp_new_spans(pfid, int, otlp_span[], text[], jsonb) IS
	'The new spans of an OTLP request with ids made and parents resolved (in the request, stored, or awaited), parents first';

-- Stores the request's new spans and their OTel ids in one statement; if a
-- run is terminated by risk meanwhile (the statement fails), stores them one
-- by one, parents first, and counts those of the terminated run in
-- sdk_refused_spans instead. Answers how many were refused.
CREATE FUNCTION otlp_store_spans(account pfid, partition int, spans otlp_span[], res_reason text[], runs jsonb)
	RETURNS bigint
	LANGUAGE plpgsql
AS $$
DECLARE
	refused bigint := 0;
	span record;
	stored prefactor.pfid;
BEGIN
	BEGIN
		WITH n AS MATERIALIZED (
			SELECT * FROM prefactor.otlp_new_spans(account, partition, spans, res_reason, runs)
		), stored AS (
			INSERT INTO prefactor.spans (account_id, id, instance_id, parent_span_id, parent_ref, span_type, status,
										 payload, result, started_at, finished_at)
			SELECT account, n.id, n.instance_id, n.parent_span_id, n.parent_ref, (n.s).span_type, (n.s).status,
				   (n.s).payload, (n.s).result, (n.s).started_at, (n.s).finished_at
			  FROM n
			RETURNING id
		)
		INSERT INTO prefactor.otlp_spans (account_id, id, instance_id, trace_id, span_id, parent_span_id)
		SELECT account, n.id, n.instance_id, (n.s).trace_id, (n.s).span_id, (n.s).parent_id
		  FROM n JOIN stored ON stored.id = n.id;
		RETURN 0;
	EXCEPTION WHEN object_not_in_prerequisite_state THEN
		-- a span raised its run to termination and the next one met the ended run
		NULL;
	END;
	FOR span IN SELECT * FROM prefactor.otlp_new_spans(account, partition, spans, res_reason, runs) LOOP
		stored := NULL;
		INSERT INTO prefactor.spans (account_id, id, instance_id, parent_span_id, parent_ref, span_type, status,
									 payload, result, started_at, finished_at)
		SELECT account, span.id, span.instance_id, span.parent_span_id, span.parent_ref, (span.s).span_type,
			   (span.s).status, (span.s).payload, (span.s).result, (span.s).started_at, (span.s).finished_at
		  FROM prefactor.instances i
		 WHERE i.account_id = account AND i.id = span.instance_id AND i.status = 'active'
		   FOR NO KEY UPDATE OF i
		RETURNING id INTO stored;
		IF stored IS NOT NULL THEN
			INSERT INTO prefactor.otlp_spans (account_id, id, instance_id, trace_id, span_id, parent_span_id)
			VALUES (account, span.id, span.instance_id, (span.s).trace_id, (span.s).span_id, (span.s).parent_id);
		ELSE
			INSERT INTO prefactor.sdk_refused_spans
				(account_id, instance_id, operation, client_span_id, trace_id, span_type)
			VALUES (account, span.instance_id, 'otlp_span', (span.s).span_id, (span.s).trace_id, (span.s).span_type)
			ON CONFLICT DO NOTHING;
			refused := refused + 1;
		END IF;
	END LOOP;
	RETURN refused;
END
$$;
COMMENT ON FUNCTION otlp_store_spans(pfid, int, otlp_span[], text[], jsonb) IS
	'Stores the new spans of an OTLP request and their OTel ids; those of a run terminated meanwhile are counted in sdk_refused_spans; answers how many were refused';

------------------------------------------------------------------------------
-- The public function
------------------------------------------------------------------------------
CREATE FUNCTION prefactor_otlp_export(token text, request jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
DECLARE
	answer prefactor.sdk_answer;
BEGIN
	IF token IS NULL THEN
		RETURN ROW(401, '{"code": 16, "message": "an ingest token is required (Authorization: Bearer pft_...)"}')::prefactor.sdk_answer;
	END IF;
	RETURN prefactor.otlp_export(prefactor.ingest_token_row(token), request);
EXCEPTION WHEN OTHERS THEN
	answer := prefactor.otlp_error_answer(SQLSTATE, SQLERRM);
	IF answer IS NULL THEN
		RAISE;
	END IF;
	RETURN answer;
END
$$;
COMMENT ON FUNCTION prefactor_otlp_export(text, jsonb) IS
	'OTLP/HTTP POST /v1/traces with a JSON body (ExportTraceServiceRequest): records the spans under the ingest token''s agent and environment, one run per trace id, GenAI attributes as payload and result, parents linked whenever they arrive, a redelivered span stored once. Answers (http_status, body): 200 {} or {"partialSuccess": {"rejectedSpans", "errorMessage"}}, 400 for a request that does not decode (nothing stored), 401 for a bad token, 403 without ingest access.';
