-- prefactor_sample 0.2.0: the sample-data generator, a companion extension
-- of prefactor for demos, tests and benchmarks (make run loads it), kept out
-- of the prefactor extension so that production databases do not carry it.
\echo Use "CREATE EXTENSION prefactor_sample" to load this file. \quit
SET LOCAL search_path = prefactor, pg_catalog;

------------------------------------------------------------------------------
-- Sample workload: generate_sample(account, runs) fills an account
-- with realistic runs of two agents through the public run API, so the
-- validation, risk and audit triggers see exactly what a client would send.
--   support-chatbot: conversations of user_message, llm, tool:read_file,
--     tool:web_search (and, from v1.2.0, tool:lookup_order) and
--     assistant_message spans under business-level turn spans;
--   research-agent: tasks that plan, gather (web searches, file reads) and
--     synthesize a report.
-- Three environments, several versions and schema versions, a deployment
-- history, two risk profiles, and a few failures, cancellations,
-- terminations, undeclared span types and schema mismatches. Random choices
-- come from random() after setseed(seed), so equal arguments give equal data
-- (ids apart).
------------------------------------------------------------------------------

-- The activity schema documents the sample agents report, by name.
CREATE FUNCTION sample_schema(name text) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = prefactor, pg_catalog, pg_temp
AS $$
DECLARE
	-- data_risk shapes shared by several span types
	read_personal jsonb := '{"action_profile": {"read_data": "allowed", "create_data": "disallowed", "update_data": "disallowed",
		"destroy_data": "disallowed", "financial_transactions": "disallowed", "external_communication": "disallowed"},
		"params_data_categories": {"classification": "confidential", "personal_identifiers": "included",
			"contact_information": "included", "health_and_medical": "unknown"},
		"result_data_categories": {"classification": "internal"}}';
	model_call jsonb := '{"action_profile": {"read_data": "allowed", "external_communication": "allowed",
		"create_data": "disallowed", "destroy_data": "disallowed", "financial_transactions": "disallowed"},
		"params_data_categories": {"classification": "confidential", "personal_identifiers": "included",
			"behavioural_and_inferred": "included"},
		"result_data_categories": {"classification": "confidential", "behavioural_and_inferred": "included"}}';
	reply jsonb := '{"action_profile": {"external_communication": "allowed", "read_data": "disallowed"},
		"params_data_categories": {"classification": "confidential", "contact_information": "included",
			"personal_identifiers": "included"}}';
	web_search jsonb := '{"action_profile": {"external_communication": "allowed", "read_data": "allowed"},
		"params_data_categories": {"classification": "public", "personal_identifiers": "excluded"},
		"result_data_categories": {"classification": "public"}}';
	read_file jsonb := '{"action_profile": {"read_data": "allowed", "update_data": "disallowed", "destroy_data": "disallowed"},
		"params_data_categories": {"classification": "internal"},
		"result_data_categories": {"classification": "confidential", "organisational_confidential": "included"}}';
	lookup_order jsonb := '{"action_profile": {"read_data": "allowed", "financial_transactions": "disallowed"},
		"params_data_categories": {"classification": "confidential", "personal_identifiers": "included"},
		"result_data_categories": {"classification": "restricted", "financial_information": "included",
			"contact_information": "included", "location_and_tracking": "included"}}';
	types jsonb;
BEGIN
	types := jsonb_build_array(
		jsonb_build_object('name', 'user_message', 'description', 'A message typed by the user',
			'template', '{{ text }}',
			'params_schema', '{"type": "object", "required": ["text"], "properties": {"text": {"type": "string", "minLength": 1}, "locale": {"type": "string"}}}'::jsonb,
			'data_risk', read_personal),
		jsonb_build_object('name', 'assistant_message', 'description', 'The answer shown to the user',
			'template', '{{ text }}',
			'params_schema', '{"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}'::jsonb,
			'data_risk', reply),
		jsonb_build_object('name', 'llm', 'description', 'A call to the language model',
			'template', '{{ model }}', 'result_template', '{{ tokens }} tokens',
			'params_schema', '{"type": "object", "required": ["model", "messages"], "properties": {"model": {"type": "string"}, "messages": {"type": "array", "items": {"type": "object"}}, "temperature": {"type": "number", "minimum": 0, "maximum": 2}}}'::jsonb,
			'result_schema', '{"type": "object", "required": ["output", "tokens"], "properties": {"output": {"type": "string"}, "tokens": {"type": "integer", "minimum": 0}}}'::jsonb,
			'data_risk', model_call),
		jsonb_build_object('name', 'tool:web_search', 'description', 'A web search',
			'template', 'search: {{ query }}',
			'params_schema', '{"type": "object", "required": ["query"], "additionalProperties": false, "properties": {"query": {"type": "string", "minLength": 1}, "max_results": {"type": "integer", "minimum": 1, "maximum": 20}}}'::jsonb,
			'result_schema', '{"type": "object", "required": ["urls"], "properties": {"urls": {"type": "array", "items": {"type": "string"}}}}'::jsonb,
			'data_risk', web_search),
		jsonb_build_object('name', 'tool:read_file', 'description', 'Reads a document from the knowledge base',
			'template', 'read {{ path }}',
			'params_schema', '{"type": "object", "required": ["path"], "properties": {"path": {"type": "string", "pattern": "^/"}}}'::jsonb,
			'result_schema', '{"type": "object", "required": ["bytes"], "properties": {"bytes": {"type": "integer", "minimum": 0}}}'::jsonb,
			'data_risk', read_file));
	CASE name
	WHEN 'support-s1', 'support-s2' THEN
		types := types || jsonb_build_array(
			jsonb_build_object('name', 'support:conversation', 'description', 'A whole support conversation',
				'params_schema', '{"type": "object", "required": ["channel"], "properties": {"channel": {"enum": ["web", "email", "chat"]}, "customer_tier": {"type": "string"}}}'::jsonb),
			jsonb_build_object('name', 'support:answer', 'description', 'Working out the answer to one user message',
				'params_schema', '{"type": "object", "required": ["intent"], "properties": {"intent": {"type": "string"}}}'::jsonb));
		IF name = 'support-s2' THEN
			types := types || jsonb_build_array(
				jsonb_build_object('name', 'tool:lookup_order', 'description', 'Looks up a customer order',
					'template', 'order {{ order_id }}',
					'params_schema', '{"type": "object", "required": ["order_id"], "properties": {"order_id": {"type": "string", "pattern": "^ORD-[0-9]{6}$"}}}'::jsonb,
					'result_schema', '{"type": "object", "required": ["status"], "properties": {"status": {"enum": ["placed", "shipped", "delivered", "refunded"]}}}'::jsonb,
					'data_risk', lookup_order));
		END IF;
	WHEN 'research-r1', 'research-r2' THEN
		types := types || jsonb_build_array(
			jsonb_build_object('name', 'research:task', 'description', 'A research question from start to report',
				'params_schema', '{"type": "object", "required": ["question"], "properties": {"question": {"type": "string"}}}'::jsonb),
			jsonb_build_object('name', 'research:gather', 'description', 'Collecting sources',
				'params_schema', '{"type": "object", "required": ["sources"], "properties": {"sources": {"type": "integer", "minimum": 1}}}'::jsonb),
			jsonb_build_object('name', 'research:synthesize', 'description', 'Writing the report',
				'params_schema', '{"type": "object"}'::jsonb,
				'result_schema', CASE WHEN name = 'research-r2'
					THEN '{"type": "object", "required": ["report", "citations"], "properties": {"report": {"type": "string"}, "citations": {"type": "integer", "minimum": 1}}}'::jsonb END));
	ELSE
		RAISE EXCEPTION 'no sample schema "%"', name USING ERRCODE = 'invalid_parameter_value';
	END CASE;
	RETURN jsonb_build_object('external_identifier', name, 'span_type_schemas', types);
END
$$;
COMMENT ON FUNCTION sample_schema(text) IS
	'Activity schema documents of the sample agents: support-s1, support-s2, research-r1, research-r2';

-- A sample risk profile from a template, unless the account has it already.
CREATE FUNCTION sample_risk_profile(account pfid, name text, template text, medium numeric, high numeric,
									critical numeric, terminate_at text)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = prefactor, pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM prefactor.risk_profiles p WHERE p.account_id = account AND p.name = sample_risk_profile.name) THEN
		RETURN;
	END IF;
	PERFORM prefactor.prefactor_create_risk_profile(account::text, name, template,
		medium_threshold => medium, high_threshold => high, critical_threshold => critical,
		terminate_at_level => nullif(terminate_at, 'none'));
END
$$;
COMMENT ON FUNCTION sample_risk_profile(pfid, text, text, numeric, numeric, numeric, text) IS
	'Creates a sample risk profile unless the account has one of that name';

-- Records one sample run of an agent; returns the number of spans it recorded.
CREATE FUNCTION sample_run(account pfid, agent text, environment text, purpose text, version text,
						   schema jsonb, start_at timestamptz, outcome text)
	RETURNS int
	LANGUAGE plpgsql
	SET search_path = prefactor, pg_catalog, pg_temp
AS $$
DECLARE
	run prefactor.pfid;
	root prefactor.pfid;
	part prefactor.pfid;
	t timestamptz := start_at;
	n int := 0;
	turns int;
	questions text[] := ARRAY['Where is my order?', 'How do I reset my password?', 'Can I get a refund for a damaged item?',
		'Do you ship to Norway?', 'My invoice shows the wrong address', 'How do I cancel my subscription?',
		'Is the blue kettle back in stock?', 'Why was my card declined?'];
	topics text[] := ARRAY['EU AI Act obligations for chatbots', 'heat pump efficiency in cold climates',
		'battery recycling rates in Europe', 'open-source vector databases', 'carbon accounting standards',
		'PostgreSQL logical replication pitfalls'];
	files text[] := ARRAY['/kb/shipping.md', '/kb/refunds.md', '/kb/accounts.md', '/kb/billing.md', '/kb/stock.csv'];
	question text;
	spans_left int;
	stop_early boolean := outcome IN ('failed', 'cancelled', 'terminated', 'active');
	i int;
	k int;
BEGIN
	IF outcome = 'pending' THEN
		PERFORM prefactor.prefactor_register_run(account::text, agent, environment,
			jsonb_build_object('external_identifier', version, 'name', agent || ' ' || version), schema, purpose);
		RETURN 0;
	END IF;
	run := prefactor.prefactor_start_run(account::text, agent, environment,
		jsonb_build_object('external_identifier', version, 'name', agent || ' ' || version),
		schema, purpose, NULL, start_at);

	IF agent = 'support-chatbot' THEN
		root := (prefactor.prefactor_start_span(run, 'support:conversation',
			jsonb_build_object('channel', (ARRAY['web', 'email', 'chat'])[1 + floor(random() * 3)::int],
							   'customer_tier', CASE WHEN random() < 0.2 THEN 'gold' ELSE 'standard' END),
			NULL, t)).span_id;
		n := n + 1;
		turns := 1 + floor(random() * 3)::int;
		FOR i IN 1 .. turns LOOP
			question := questions[1 + floor(random() * array_length(questions, 1))::int];
			t := t + make_interval(secs => 2 + random() * 20);
			PERFORM prefactor.prefactor_record_span(run, 'user_message', jsonb_build_object('text', question, 'locale', 'en'),
				NULL, 'complete', root, t, t);
			part := (prefactor.prefactor_start_span(run, 'support:answer',
				jsonb_build_object('intent', split_part(question, ' ', 2)), root, t)).span_id;
			n := n + 2;
			IF random() < 0.6 THEN
				PERFORM prefactor.prefactor_record_span(run, 'tool:read_file',
					jsonb_build_object('path', files[1 + floor(random() * array_length(files, 1))::int]),
					jsonb_build_object('bytes', 200 + floor(random() * 8000)::int), 'complete', part,
					t + interval '5 ms', t + make_interval(secs => 0.02 + random() * 0.1));
				n := n + 1;
			END IF;
			IF random() < 0.25 THEN
				-- an older integration still sends {"q": ...}: a payload mismatch
				PERFORM prefactor.prefactor_record_span(run, 'tool:web_search',
					CASE WHEN random() < 0.12 THEN jsonb_build_object('q', question)
						 ELSE jsonb_build_object('query', question, 'max_results', 5) END,
					jsonb_build_object('urls', jsonb_build_array('https://help.example.com/a', 'https://help.example.com/b')),
					'complete', part, t + interval '150 ms', t + make_interval(secs => 0.4 + random()));
				n := n + 1;
			END IF;
			IF version IN ('v1.1.0', 'v1.2.0') AND random() < 0.3 THEN
				-- v1.1.0 shipped the order tool before its schema (s2) declared it: undeclared
				PERFORM prefactor.prefactor_record_span(run, 'tool:lookup_order',
					jsonb_build_object('order_id', CASE WHEN random() < 0.1 THEN 'ORD-12'
						ELSE 'ORD-' || lpad(floor(random() * 1000000)::text, 6, '0') END),
					jsonb_build_object('status', (ARRAY['placed', 'shipped', 'delivered', 'refunded'])[1 + floor(random() * 4)::int]),
					'complete', part, t + interval '300 ms', t + make_interval(secs => 0.35 + random() * 0.2));
				n := n + 1;
			END IF;
			t := t + make_interval(secs => 1.5 + random() * 2);
			IF stop_early AND i = turns THEN
				IF outcome = 'failed' THEN
					PERFORM prefactor.prefactor_record_span(run, 'llm',
						jsonb_build_object('model', 'gpt-4o-mini', 'messages', jsonb_build_array(jsonb_build_object('role', 'user', 'content', question))),
						jsonb_build_object('error', 'upstream timeout after 30s'), 'failed', part, t, t + interval '30 s');
					n := n + 1;
				END IF;
				EXIT;
			END IF;
			-- a response cut off at the token limit has no token count: a result mismatch
			PERFORM prefactor.prefactor_record_span(run, 'llm',
				jsonb_build_object('model', 'gpt-4o-mini', 'temperature', 0.2,
								   'messages', jsonb_build_array(jsonb_build_object('role', 'user', 'content', question))),
				CASE WHEN random() < 0.03 THEN jsonb_build_object('output', 'I can help with th', 'finish_reason', 'length')
					 ELSE jsonb_build_object('output', 'Thanks for asking. ' || question, 'tokens', 80 + floor(random() * 600)::int) END,
				'complete', part, t, t + make_interval(secs => 0.8 + random() * 3));
			t := t + make_interval(secs => 4);
			PERFORM prefactor.prefactor_finish_span(part, 'complete', jsonb_build_object('resolved', random() < 0.8), t);
			PERFORM prefactor.prefactor_record_span(run, 'assistant_message',
				jsonb_build_object('text', 'Here is what I found about: ' || question), NULL, 'complete', root, t, t);
			n := n + 2;
		END LOOP;
		IF NOT stop_early THEN
			PERFORM prefactor.prefactor_finish_span(root, 'complete', jsonb_build_object('turns', turns), t);
		END IF;
	ELSE
		question := topics[1 + floor(random() * array_length(topics, 1))::int];
		root := (prefactor.prefactor_start_span(run, 'research:task', jsonb_build_object('question', question), NULL, t)).span_id;
		PERFORM prefactor.prefactor_record_span(run, 'user_message', jsonb_build_object('text', 'Research: ' || question),
			NULL, 'complete', root, t, t);
		t := t + interval '200 ms';
		PERFORM prefactor.prefactor_record_span(run, 'llm',
			jsonb_build_object('model', 'claude-sonnet', 'messages', jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'Plan: ' || question))),
			jsonb_build_object('output', '1. search 2. read 3. write', 'tokens', 300 + floor(random() * 400)::int),
			'complete', root, t, t + make_interval(secs => 2 + random() * 3));
		t := t + interval '5 s';
		spans_left := 2 + floor(random() * 4)::int;
		part := (prefactor.prefactor_start_span(run, 'research:gather', jsonb_build_object('sources', spans_left), root, t)).span_id;
		n := n + 4;
		FOR k IN 1 .. spans_left LOOP
			PERFORM prefactor.prefactor_record_span(run, 'tool:web_search',
				jsonb_build_object('query', question || ' ' || k, 'max_results', 10),
				jsonb_build_object('urls', jsonb_build_array('https://example.org/' || k, 'https://example.net/' || k)),
				'complete', part, t, t + make_interval(secs => 0.5 + random() * 1.5));
			t := t + make_interval(secs => 2);
			-- a relative path slips through now and then: a payload mismatch
			PERFORM prefactor.prefactor_record_span(run, 'tool:read_file',
				jsonb_build_object('path', CASE WHEN random() < 0.04 THEN 'notes/draft.md' ELSE '/cache/page-' || k || '.html' END),
				jsonb_build_object('bytes', 1000 + floor(random() * 50000)::int), 'complete', part, t,
				t + make_interval(secs => 0.05 + random() * 0.2));
			t := t + make_interval(secs => 1);
			n := n + 2;
			IF stop_early AND k = spans_left THEN
				IF outcome = 'failed' THEN
					PERFORM prefactor.prefactor_finish_span(part, 'failed', jsonb_build_object('error', 'rate limited by search provider'), t);
				END IF;
				EXIT;
			END IF;
		END LOOP;
		IF NOT stop_early THEN
			PERFORM prefactor.prefactor_finish_span(part, 'complete', jsonb_build_object('sources', spans_left), t);
			part := (prefactor.prefactor_start_span(run, 'research:synthesize', '{}', root, t)).span_id;
			PERFORM prefactor.prefactor_record_span(run, 'llm',
				jsonb_build_object('model', 'claude-sonnet', 'messages', jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'Write the report'))),
				jsonb_build_object('output', 'Report on ' || question, 'tokens', 1500 + floor(random() * 2500)::int),
				'complete', part, t, t + make_interval(secs => 10 + random() * 20));
			t := t + make_interval(secs => 31);
			-- v0.9.0 reports without a citation count; under research-r2 that is a result mismatch
			PERFORM prefactor.prefactor_finish_span(part, 'complete',
				CASE WHEN random() < 0.05 THEN jsonb_build_object('report', 'Report on ' || question)
					 ELSE jsonb_build_object('report', 'Report on ' || question, 'citations', spans_left) END, t);
			PERFORM prefactor.prefactor_record_span(run, 'assistant_message', jsonb_build_object('text', 'Report on ' || question),
				NULL, 'complete', root, t, t);
			PERFORM prefactor.prefactor_finish_span(root, 'complete', '{}', t);
			n := n + 3;
		END IF;
	END IF;

	-- the count of what was stored; a run that risk control terminated took no more spans
	SELECT count(*) INTO n FROM prefactor.spans s WHERE s.account_id = account AND s.instance_id = run;
	IF (SELECT i.status FROM prefactor.instances i WHERE i.account_id = account AND i.id = run) <> 'active' THEN
		RETURN n;
	END IF;
	CASE outcome
	WHEN 'active' THEN
		NULL;
	WHEN 'terminated' THEN
		PERFORM prefactor.end_instance('terminate_run', run, 'terminated', t,
			CASE WHEN agent = 'support-chatbot' THEN 'operator stop: repeated refund requests'
				 ELSE 'operator stop: research loop exceeded budget' END, NULL);
	ELSE
		PERFORM prefactor.prefactor_finish_run(run, outcome, t + interval '10 ms');
		IF outcome = 'complete' AND agent = 'support-chatbot' AND random() < 0.2 THEN
			PERFORM prefactor.prefactor_record_quality(run, 'helpfulness',
				jsonb_build_object('score', 3 + floor(random() * 3)::int, 'rater', 'sampled-review'));
		END IF;
	END CASE;
	RETURN n;
END
$$;
COMMENT ON FUNCTION sample_run(pfid, text, text, text, text, jsonb, timestamptz, text) IS
	'Records one sample run (pending, active, complete, failed, cancelled or terminated); returns its span count';

CREATE FUNCTION generate_sample(account text, runs integer, seed double precision DEFAULT 0.42,
								until timestamptz DEFAULT now(), days integer DEFAULT 7)
	RETURNS TABLE (instances bigint, spans bigint)
	LANGUAGE plpgsql
	SET search_path = prefactor, pg_catalog, pg_temp
AS $$
<<generate_sample>>
DECLARE
	account_id prefactor.pfid;
	window_start timestamptz;
	agent text;
	env text;
	purpose text;
	version text;
	schema_name text;
	outcome text;
	era double precision;
	r double precision;
	run_at timestamptz;
	total_spans bigint := 0;
	schemas jsonb := (SELECT jsonb_object_agg(n, prefactor.sample_schema(n))
						FROM unnest(ARRAY['support-s1', 'support-s2', 'research-r1', 'research-r2']) n);
BEGIN
	IF runs IS NULL OR runs < 0 THEN
		RAISE EXCEPTION 'runs must be 0 or more, not %', runs USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF days IS NULL OR days < 1 THEN
		RAISE EXCEPTION 'days must be 1 or more, not %', days USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF until IS NULL OR seed IS NULL OR seed < -1 OR seed > 1 THEN
		RAISE EXCEPTION 'until must not be null and seed must lie in -1 .. 1' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM setseed(seed);
	window_start := until - make_interval(days => days);

	-- The set-up, each part only if missing.
	SELECT a.account_id INTO account_id FROM prefactor.accounts a
	 WHERE a.account_id = prefactor.try_pfid(generate_sample.account) OR a.name = generate_sample.account;
	IF account_id IS NULL THEN
		account_id := prefactor.prefactor_create_account(generate_sample.account);
	END IF;
	FOR env IN SELECT unnest(ARRAY['development', 'staging', 'production']) LOOP
		IF NOT EXISTS (SELECT 1 FROM prefactor.environments e WHERE e.account_id = generate_sample.account_id AND e.name = env) THEN
			PERFORM prefactor.prefactor_create_environment(account_id::text, env, initcap(env) || ' stage');
		END IF;
	END LOOP;
	PERFORM prefactor.sample_risk_profile(account_id, 'customer-facing', 'general', 60, 150, 400, 'none');
	PERFORM prefactor.sample_risk_profile(account_id, 'research-gdpr', 'strict_gdpr', 80, 200, 500, 'critical');
	IF NOT EXISTS (SELECT 1 FROM prefactor.agents g WHERE g.account_id = generate_sample.account_id AND g.name = 'support-chatbot') THEN
		PERFORM prefactor.prefactor_register_agent(account_id::text, 'support-chatbot',
			'Answers customer questions about orders, billing and accounts', 'customer-facing');
	END IF;
	IF NOT EXISTS (SELECT 1 FROM prefactor.agents g WHERE g.account_id = generate_sample.account_id AND g.name = 'research-agent') THEN
		PERFORM prefactor.prefactor_register_agent(account_id::text, 'research-agent',
			'Searches the web and internal files and writes cited reports', 'research-gdpr');
	END IF;

	-- The runs, evenly spread over the window with jitter, oldest first.
	FOR i IN 1 .. runs LOOP
		era := (i - random()) / runs;
		run_at := window_start + (until - window_start) * era;
		agent := CASE WHEN random() < 0.65 THEN 'support-chatbot' ELSE 'research-agent' END;
		r := random();
		env := CASE WHEN r < 0.7 THEN 'production' WHEN r < 0.9 THEN 'staging' ELSE 'development' END;
		purpose := CASE WHEN env = 'development' AND random() < 0.5 THEN 'smoke_test'
						WHEN env = 'staging' AND random() < 0.3 THEN 'eval' ELSE 'live' END;
		-- new versions reach development first, then staging, then production
		era := era + CASE env WHEN 'development' THEN 0.2 WHEN 'staging' THEN 0.1 ELSE 0 END;
		IF agent = 'support-chatbot' THEN
			IF era < 0.35 THEN version := 'v1.0.0'; schema_name := 'support-s1';
			ELSIF era < 0.7 THEN version := 'v1.1.0'; schema_name := 'support-s1';
			ELSE version := 'v1.2.0'; schema_name := 'support-s2';
			END IF;
		ELSE
			IF era < 0.5 THEN version := 'v0.9.0'; schema_name := 'research-r1';
			ELSE version := 'v1.0.0'; schema_name := 'research-r2';
			END IF;
		END IF;
		r := random();
		-- the latest runs are still going (or not yet started)
		outcome := CASE WHEN i > runs - greatest(1, runs / 100) AND r < 0.7 THEN 'active'
						WHEN i > runs - greatest(1, runs / 100) THEN 'pending'
						WHEN r < 0.86 THEN 'complete' WHEN r < 0.94 THEN 'failed'
						WHEN r < 0.98 THEN 'cancelled' ELSE 'terminated' END;
		total_spans := total_spans + prefactor.sample_run(account_id, agent, env, purpose, version,
														  schemas -> schema_name, run_at, outcome);
	END LOOP;

	-- The deployment history, once: each version deployed when its era began.
	INSERT INTO prefactor.agent_deployments (account_id, agent_id, environment_id, version_id, deployed_at, retired_at)
	SELECT g.account_id, g.id AS agent_id, e.id AS environment_id, v.id AS version_id,
			   window_start + (until - window_start) * greatest(0, x.era - CASE e.name WHEN 'development' THEN 0.2
				   WHEN 'staging' THEN 0.1 ELSE 0 END) AS deployed_at,
			   lead(window_start + (until - window_start) * greatest(0, x.era - CASE e.name WHEN 'development' THEN 0.2
				   WHEN 'staging' THEN 0.1 ELSE 0 END)) OVER (PARTITION BY g.id, e.id ORDER BY x.era) AS retired_at
		  FROM (VALUES ('support-chatbot', 'v1.0.0', 0.0), ('support-chatbot', 'v1.1.0', 0.35),
					   ('support-chatbot', 'v1.2.0', 0.7), ('research-agent', 'v0.9.0', 0.0),
					   ('research-agent', 'v1.0.0', 0.5)) x (agent, version, era)
		  JOIN prefactor.agents g ON g.account_id = generate_sample.account_id AND g.name = x.agent
		  JOIN prefactor.environments e ON e.account_id = g.account_id
		  JOIN LATERAL (SELECT v.id FROM prefactor.agent_versions v
						 WHERE v.account_id = g.account_id AND v.agent_id = g.id AND v.external_identifier = x.version
						 ORDER BY v.created_at LIMIT 1) v ON true
		 WHERE NOT EXISTS (SELECT 1 FROM prefactor.agent_deployments o
							WHERE o.account_id = g.account_id AND o.agent_id = g.id)
		 ORDER BY g.id, e.id, x.era;

	instances := runs;
	spans := total_spans;
	RETURN NEXT;
END generate_sample
$$;
COMMENT ON FUNCTION generate_sample(text, integer, double precision, timestamptz, integer) IS
	'Adds runs of a support chatbot and a research agent to the account (created with its environments, agents and risk profiles if missing), spread over the days before until; deterministic for a seed; returns the runs and spans added';

------------------------------------------------------------------------------
-- Access: as in prefactor, nothing for PUBLIC; a fixed search_path.
------------------------------------------------------------------------------
REVOKE ALL ON FUNCTION sample_schema(text), sample_risk_profile(pfid, text, text, numeric, numeric, numeric, text),
	sample_run(pfid, text, text, text, text, jsonb, timestamptz, text),
	generate_sample(text, integer, double precision, timestamptz, integer) FROM PUBLIC;
ALTER FUNCTION sample_risk_profile(pfid, text, text, numeric, numeric, numeric, text) SET search_path = pg_catalog, prefactor, pg_temp;
ALTER FUNCTION sample_run(pfid, text, text, text, text, jsonb, timestamptz, text) SET search_path = pg_catalog, prefactor, pg_temp;
ALTER FUNCTION generate_sample(text, integer, double precision, timestamptz, integer) SET search_path = pg_catalog, prefactor, pg_temp;
