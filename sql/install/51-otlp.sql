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
--   counted, as are spans of a terminated run (by risk or an operator;
--   sdk_refused_spans). A run whose root never arrives stays active.
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

-- The run of each trace (its foreign keys to the agent and the run imply the account).
CREATE TABLE IF NOT EXISTS otlp_traces (
	account_id		pfid NOT NULL,
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
-- the ingest role's exports record them
SELECT prefactor.secure_table('otlp_traces', '{INSERT}', '{}');

-- The OTel ids of each span stored from OTLP.
CREATE TABLE IF NOT EXISTS otlp_spans (
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
CREATE UNIQUE INDEX IF NOT EXISTS otlp_spans_otel_id ON otlp_spans (account_id, trace_id, span_id);
COMMENT ON TABLE otlp_spans IS
	'Spans stored from OTLP with their OTel ids: one span per account, trace id and span id, so a redelivered batch stores nothing twice';
COMMENT ON COLUMN otlp_spans.account_id IS 'The account of the span';
COMMENT ON COLUMN otlp_spans.id IS 'The span (spans.id; no foreign key, so that TRUNCATE spans meets the audit guard; purged with its run)';
COMMENT ON COLUMN otlp_spans.instance_id IS 'The run of the span (the trace''s run, otlp_traces)';
COMMENT ON COLUMN otlp_spans.trace_id IS 'The OTel trace id, 32 lower-case hex digits';
COMMENT ON COLUMN otlp_spans.span_id IS 'The OTel span id, 16 lower-case hex digits';
COMMENT ON COLUMN otlp_spans.parent_span_id IS 'The OTel span id of its parent (NULL for a root); spans.parent_span_id once that is stored, spans.parent_ref until then';
SELECT pg_catalog.pg_extension_config_dump('otlp_spans', '');
SELECT prefactor.secure_table('otlp_spans', '{INSERT}', '{}');

------------------------------------------------------------------------------
-- Decoding OTLP/JSON (C: src/api/otlp_decode.c, where every attribute of
-- every span is unwrapped: the bulk of an export's work)
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION otlp_decode(request jsonb)
	RETURNS TABLE (resource_no int, service_name text, service_version text, environment text,
				   trace_id text, span_id text, parent_id text, root boolean, span_type text, status text,
				   started_at timestamptz, finished_at timestamptz, payload jsonb, result jsonb)
	AS 'MODULE_PATHNAME', 'prefactor_otlp_decode' LANGUAGE C IMMUTABLE;
COMMENT ON FUNCTION otlp_decode(jsonb) IS
	'The spans of an OTLP/JSON ExportTraceServiceRequest as prefactor stores them, with their resource''s service.name, service.version and environment (ids lower-cased, times from unix nanoseconds, span type, status, payload and result from the GenAI attributes); invalid_parameter_value, naming where, for a request that does not decode';

-- The OTLP error answer (a google.rpc.Status: {code, message}) for a
-- SQLSTATE the protocol knows, or NULL for any other (raised: a 500).
CREATE OR REPLACE FUNCTION otlp_error_answer(state text, message text) RETURNS sdk_answer
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

-- The decoded spans of a request, one array per column (index = position in
-- the request), as the export's statements pass them to each other.
CREATE TYPE otlp_batch AS (
	trace_ids		text[],
	span_ids		text[],
	parent_ids		text[],
	roots			boolean[],
	span_types		text[],
	statuses		text[],
	started			timestamptz[],
	finished		timestamptz[],
	payloads		jsonb[],
	results			jsonb[],
	rejections		text[],		-- why the span's resource is rejected (NULL: accepted)
	versions		text[]		-- its resource's service.version
);
COMMENT ON TYPE otlp_batch IS 'The decoded spans of an OTLP request, column by column (internal to prefactor_otlp_export)';

-- The request's new spans: accepted, not stored before (the first of a span
-- sent twice), of a run in runs (trace id -> run id). Their ids are made
-- here, so that a parent in the same request is linked as the span is
-- stored; a parent stored before is linked too; one not seen yet is awaited
-- (parent_ref). depth orders parents before children. Spans are matched
-- through jsonb maps (trace id || span id -> ...), whose lookups stay cheap
-- for requests of any size and shape. Parent links among the new spans that
-- form a cycle are refused (invalid_parameter_value).
CREATE OR REPLACE FUNCTION otlp_new_spans(account pfid, b otlp_batch, runs jsonb)
	RETURNS TABLE (pos int, id pfid, instance_id pfid, parent_span_id pfid, parent_ref text, depth int)
	LANGUAGE plpgsql
AS $$
DECLARE
	known jsonb;	-- of the request's spans and parents, those stored before: -> [span, run]
BEGIN
	-- one probe of the unique index per id (LIMIT keeps it a probe whatever
	-- the statistics say): the account may hold millions
	SELECT coalesce(jsonb_object_agg(x.t || x.s, jsonb_build_array(o.id, o.instance_id)), '{}') INTO known
	  FROM (SELECT DISTINCT u.t, u.s FROM unnest(b.trace_ids || b.trace_ids, b.span_ids || b.parent_ids) u(t, s)
			 WHERE u.s IS NOT NULL) x
	 CROSS JOIN LATERAL (SELECT o.id, o.instance_id FROM prefactor.otlp_spans o
						  WHERE o.account_id = account AND o.trace_id = x.t AND o.span_id = x.s LIMIT 1) o;
	RETURN QUERY
	WITH RECURSIVE f AS MATERIALIZED (
		SELECT DISTINCT ON (u.t, u.s) u.o::int AS pos, u.t, u.s, CASE WHEN NOT u.root THEN u.p END AS p,
			   (runs->>u.t)::prefactor.pfid AS instance_id,
			   prefactor.pfid_generate(prefactor.pfid_partition(account), u.started) AS id
		  FROM unnest(b.trace_ids, b.span_ids, b.parent_ids, b.roots, b.started, b.rejections)
			   WITH ORDINALITY u(t, s, p, root, started, rejection, o)
		 WHERE u.rejection IS NULL AND runs ? u.t AND NOT known ? (u.t || u.s)
		 ORDER BY u.t, u.s, u.o
	), m AS MATERIALIZED (
		SELECT coalesce(jsonb_object_agg(f.t || f.s, f.id), '{}') AS ids FROM f
	), linked AS MATERIALIZED (
		SELECT f.pos, f.id, f.instance_id, (m.ids->>(f.t || f.p))::prefactor.pfid AS batch_parent,
			   CASE WHEN (known->(f.t || f.p)->>1)::prefactor.pfid = f.instance_id
					THEN (known->(f.t || f.p)->>0)::prefactor.pfid END AS stored_parent, f.p
		  FROM f, m
	), levels AS (
		SELECT l.id, 0 AS depth FROM linked l WHERE l.batch_parent IS NULL
		UNION ALL
		SELECT l.id, v.depth + 1 FROM levels v JOIN linked l ON l.batch_parent = v.id
	)
	SELECT l.pos, l.id, l.instance_id, coalesce(l.batch_parent, l.stored_parent),
		   CASE WHEN l.batch_parent IS NULL AND l.stored_parent IS NULL THEN l.p END, v.depth
	  FROM linked l LEFT JOIN levels v ON v.id = l.id
	 ORDER BY v.depth, l.pos;
END
$$;
COMMENT ON FUNCTION otlp_new_spans(pfid, otlp_batch, jsonb) IS
	'The new spans of an OTLP request with ids made and parents resolved (in the request, stored before, or awaited), parents first; depth NULL for spans whose parent links in the request form a cycle';

-- Links the spans that awaited a parent stored now (by this request) to it,
-- one probe of spans_awaiting_parent per new span; a run terminated meanwhile
-- changes no more.
CREATE OR REPLACE FUNCTION otlp_link_awaiting(account pfid, b otlp_batch, pos int[], ids pfid[], instance_ids pfid[])
	RETURNS void
	LANGUAGE plpgsql
AS $$
DECLARE
	active prefactor.pfid[];
BEGIN
	SELECT array_agg(i.id) INTO active
	  FROM (SELECT DISTINCT r FROM unnest(instance_ids) r) x
	 CROSS JOIN LATERAL (SELECT i.id FROM prefactor.instances i
						  WHERE i.account_id = account AND i.id = x.r AND i.status = 'active' LIMIT 1) i;
	UPDATE prefactor.spans c SET parent_span_id = n.id, parent_ref = NULL
	  FROM unnest(pos, ids, instance_ids) n(pos, id, instance_id)
	 WHERE n.instance_id = ANY (active)
	   AND c.account_id = account AND c.instance_id = n.instance_id AND c.parent_ref = b.span_ids[n.pos]
	   AND c.parent_ref IS NOT NULL;
END
$$;
COMMENT ON FUNCTION otlp_link_awaiting(pfid, otlp_batch, int[], pfid[], pfid[]) IS
	'Links the spans awaiting a parent (parent_ref) that an OTLP request just stored to it';

-- Stores the request's new spans and their OTel ids in one statement. If a
-- run is terminated by risk meanwhile (a later span of the statement meets
-- the ended run), stores them one by one, parents first, counting those the
-- terminated run refuses in sdk_refused_spans. Answers how many were refused.
CREATE OR REPLACE FUNCTION otlp_store_spans(account pfid, b otlp_batch, runs jsonb)
	RETURNS bigint
	LANGUAGE plpgsql
AS $$
DECLARE
	refused bigint := 0;
	span record;
	stored prefactor.pfid;
	pos int[];
	ids prefactor.pfid[];
	instance_ids prefactor.pfid[];
	parent_ids prefactor.pfid[];
	parent_refs text[];
	cyclic int;
	bulk boolean := false;
BEGIN
	SELECT array_agg(x.pos ORDER BY x.o), array_agg(x.id ORDER BY x.o), array_agg(x.instance_id ORDER BY x.o),
		   array_agg(x.parent_span_id ORDER BY x.o), array_agg(x.parent_ref ORDER BY x.o),
		   min(x.pos) FILTER (WHERE x.depth IS NULL)
	  INTO pos, ids, instance_ids, parent_ids, parent_refs, cyclic
	  FROM prefactor.otlp_new_spans(account, b, runs) WITH ORDINALITY x(pos, id, instance_id, parent_span_id, parent_ref, depth, o);
	IF cyclic IS NOT NULL THEN
		RAISE EXCEPTION 'the spans'' parent links form a cycle: span % of trace % is its own ancestor',
			b.span_ids[cyclic], b.trace_ids[cyclic] USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF pos IS NULL THEN
		RETURN 0;
	END IF;
	BEGIN
		WITH n AS (
			SELECT * FROM unnest(pos, ids, instance_ids, parent_ids, parent_refs) n(pos, id, instance_id, parent_span_id, parent_ref)
		), stored AS (
			INSERT INTO prefactor.spans (account_id, id, instance_id, parent_span_id, parent_ref, span_type, status,
										 payload, result, started_at, finished_at)
			SELECT account, n.id, n.instance_id, n.parent_span_id, n.parent_ref, b.span_types[n.pos], b.statuses[n.pos],
				   b.payloads[n.pos], b.results[n.pos], b.started[n.pos], b.finished[n.pos]
			  FROM n
		)	-- every row or an error: the OTel ids of all
		INSERT INTO prefactor.otlp_spans (account_id, id, instance_id, trace_id, span_id, parent_span_id)
		SELECT account, n.id, n.instance_id, b.trace_ids[n.pos], b.span_ids[n.pos], b.parent_ids[n.pos]
		  FROM n;
		bulk := true;
	EXCEPTION WHEN object_not_in_prerequisite_state THEN
		-- a span raised its scored run to termination and a later one met the
		-- ended run (rolled back with the statement: the loop meets it again)
		IF NOT EXISTS (SELECT FROM prefactor.instances i WHERE i.account_id = account
						AND i.id = ANY (instance_ids) AND i.risk_profile_revision_id IS NOT NULL) THEN
			RAISE;
		END IF;
	END;
	IF bulk THEN
		PERFORM prefactor.otlp_link_awaiting(account, b, pos, ids, instance_ids);
		RETURN 0;
	END IF;
	FOR span IN SELECT * FROM unnest(pos, ids, instance_ids, parent_ids, parent_refs) x(pos, id, instance_id, parent_span_id, parent_ref) LOOP
		stored := NULL;
		INSERT INTO prefactor.spans (account_id, id, instance_id, parent_span_id, parent_ref, span_type, status,
									 payload, result, started_at, finished_at)
		SELECT account, span.id, span.instance_id, span.parent_span_id, span.parent_ref, b.span_types[span.pos],
			   b.statuses[span.pos], b.payloads[span.pos], b.results[span.pos], b.started[span.pos], b.finished[span.pos]
		  FROM prefactor.instances i
		 WHERE i.account_id = account AND i.id = span.instance_id AND i.status = 'active'
		   FOR NO KEY UPDATE OF i
		RETURNING id INTO stored;
		IF stored IS NOT NULL THEN
			INSERT INTO prefactor.otlp_spans (account_id, id, instance_id, trace_id, span_id, parent_span_id)
			VALUES (account, span.id, span.instance_id, b.trace_ids[span.pos], b.span_ids[span.pos], b.parent_ids[span.pos]);
		ELSE
			INSERT INTO prefactor.sdk_refused_spans
				(account_id, instance_id, operation, client_span_id, trace_id, span_type)
			VALUES (account, span.instance_id, 'otlp_span', b.span_ids[span.pos], b.trace_ids[span.pos], b.span_types[span.pos])
			ON CONFLICT DO NOTHING;
			refused := refused + 1;
		END IF;
	END LOOP;
	PERFORM prefactor.otlp_link_awaiting(account, b, pos, ids, instance_ids);
	RETURN refused;
END
$$;
COMMENT ON FUNCTION otlp_store_spans(pfid, otlp_batch, jsonb) IS
	'Stores the new spans of an OTLP request and their OTel ids (invalid_parameter_value for parent links among them that form a cycle); those a run terminated meanwhile refuses are counted in sdk_refused_spans; answers how many were refused';

-- The body of prefactor_otlp_export: raises for a request that does not decode.
CREATE OR REPLACE FUNCTION otlp_export(t ingest_tokens, request jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
<<otlp_export>>
DECLARE
	agent_name text;
	environment_name text;
	b prefactor.otlp_batch;
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
BEGIN
	PERFORM prefactor.require_access(t.account_id, 'ingest', 'the token''s account');
	SELECT g.name, e.name INTO agent_name, environment_name
	  FROM prefactor.agents g, prefactor.environments e
	 WHERE g.account_id = t.account_id AND g.id = t.agent_id AND e.account_id = t.account_id AND e.id = t.environment_id;

	-- Decoded (raises for a request that does not decode); a resource of
	-- another agent or environment has its spans rejected.
	SELECT array_agg(d.trace_id), array_agg(d.span_id), array_agg(d.parent_id), array_agg(d.root),
		   array_agg(d.span_type), array_agg(d.status), array_agg(d.started_at), array_agg(d.finished_at),
		   array_agg(d.payload), array_agg(d.result),
		   array_agg(CASE
				WHEN d.service_name <> agent_name AND d.service_name NOT LIKE 'unknown\_service%' THEN
					format('service.name %s is not the token''s agent %s', prefactor.excerpt(d.service_name), agent_name)
				WHEN d.environment <> environment_name THEN
					format('deployment.environment.name %s is not the token''s environment %s',
						   prefactor.excerpt(d.environment), environment_name) END),
		   array_agg(d.service_version)
	  INTO b.trace_ids, b.span_ids, b.parent_ids, b.roots, b.span_types, b.statuses, b.started, b.finished,
		   b.payloads, b.results, b.rejections, b.versions
	  FROM prefactor.otlp_decode(request) d;
	IF b.trace_ids IS NULL THEN
		RETURN ROW(200, '{}')::prefactor.sdk_answer;
	END IF;

	SELECT count(*), string_agg(DISTINCT u.r, '; ') INTO n, problem FROM unnest(b.rejections) u(r) WHERE u.r IS NOT NULL;
	IF n > 0 THEN
		rejected := rejected + n;
		messages := messages || format('%s span(s) rejected: %s', n, problem);
	END IF;

	-- The run of each trace: found, or created at its earliest span's start;
	-- an earlier span moves an active run's start back.
	FOR trace IN
		SELECT u.t AS trace_id, min(u.started) AS started_at, (array_agg(u.v ORDER BY u.o))[1] AS version
		  FROM unnest(b.trace_ids, b.started, b.versions, b.rejections) WITH ORDINALITY u(t, started, v, r, o)
		 WHERE u.r IS NULL
		 GROUP BY u.t ORDER BY u.t
	LOOP
		-- one creator per trace: a concurrent first request of the trace waits here
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
		IF run.environment_id <> t.environment_id THEN
			-- the trace's run is the agent's in another environment: not this token's
			SELECT count(DISTINCT u.s) INTO n FROM unnest(b.trace_ids, b.span_ids, b.rejections) u(t, s, r)
			 WHERE u.t = trace.trace_id AND u.r IS NULL;
			rejected := rejected + n;
			messages := messages || format('%s span(s) of trace %s rejected: its run is in another environment',
										   n, trace.trace_id);
			CONTINUE;
		END IF;
		IF run.status = 'active' THEN
			IF run.started_at > trace.started_at THEN
				UPDATE prefactor.instances i SET started_at = trace.started_at
				 WHERE i.account_id = t.account_id AND i.id = run_id;
			END IF;
			runs := runs || jsonb_build_object(trace.trace_id, run_id);
			CONTINUE;
		END IF;
		-- an ended run takes no spans: its new ones are counted, not stored
		-- (each looked up by one probe of the unique index)
		WITH late AS MATERIALIZED (
			SELECT DISTINCT ON (u.s) u.t, u.s, u.ty
			  FROM unnest(b.trace_ids, b.span_ids, b.span_types, b.rejections) u(t, s, ty, r)
			  LEFT JOIN LATERAL (SELECT 1 AS hit FROM prefactor.otlp_spans o
								  WHERE o.account_id = t.account_id AND o.trace_id = u.t AND o.span_id = u.s LIMIT 1) k ON true
			 WHERE u.t = trace.trace_id AND u.r IS NULL AND k.hit IS NULL
		), counted AS (
			INSERT INTO prefactor.sdk_refused_spans (account_id, instance_id, operation, client_span_id, trace_id, span_type)
			SELECT t.account_id, run_id, 'otlp_span', l.s, l.t, l.ty FROM late l
			ON CONFLICT DO NOTHING
		)
		SELECT count(*) INTO n FROM late;
		IF n > 0 THEN
			rejected := rejected + n;
			messages := messages || format('%s span(s) of trace %s rejected: its run %s is %s%s', n, trace.trace_id,
										   run.id, run.status, coalesce(' (' || run.termination_reason || ')', ''));
		END IF;
	END LOOP;

	n := prefactor.otlp_store_spans(t.account_id, b, runs);
	IF n > 0 THEN
		rejected := rejected + n;
		messages := messages || format('%s span(s) rejected: their run was terminated', n);
	END IF;

	-- The root span ending finishes its run (failed if the root failed).
	FOR trace IN
		SELECT (runs->>u.t)::prefactor.pfid AS run_id, max(u.finished) AS finished_at,
			   bool_or(u.status = 'failed') AS failed
		  FROM unnest(b.trace_ids, b.span_ids, b.roots, b.finished, b.statuses, b.rejections) u(t, s, root, finished, status, r)
		 WHERE u.root AND u.r IS NULL AND runs ? u.t	-- of an active run: stored now or before
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

------------------------------------------------------------------------------
-- The public function
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION prefactor_otlp_export(token text, request jsonb) RETURNS sdk_answer
	LANGUAGE plpgsql
AS $$
BEGIN
	RETURN prefactor.sdk_call('otlp_export', token, NULL, request);
END
$$;
COMMENT ON FUNCTION prefactor_otlp_export(text, jsonb) IS
	'OTLP/HTTP POST /v1/traces with a JSON body (ExportTraceServiceRequest): records the spans under the ingest token''s agent and environment, one run per trace id, GenAI attributes as payload and result, parents linked whenever they arrive, a redelivered span stored once. Answers (http_status, body): 200 {} or {"partialSuccess": {"rejectedSpans", "errorMessage"}}, 400 for a request that does not decode (nothing stored), 401 for a bad token, 403 without ingest access.';
