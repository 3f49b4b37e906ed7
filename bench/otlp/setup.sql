-- OTLP bench set-up: an account with an agent whose schema declares the
-- GenAI span types (validated), an ingest token, and one OTLP/JSON request of
-- 100 spans of one agent run (a root, invoke_agent, 49 chat + 49
-- execute_tool:search) in the order a batch exporter sends them (as they
-- end: children first). TRACEID is replaced per request.
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_token, bench_body;
DROP EXTENSION IF EXISTS prefactor CASCADE;
CREATE EXTENSION prefactor;
SELECT prefactor.prefactor_create_account('bench');
SELECT prefactor.prefactor_create_environment('bench', 'production');
SELECT prefactor.prefactor_register_agent('bench', 'bench-bot');
-- the agent's first version and schema: the OTLP runs pair with them
SELECT prefactor.prefactor_finish_run(prefactor.prefactor_start_run('bench', 'bench-bot', 'production',
	'{"external_identifier": "1.0.0"}',
	'{"external_identifier": "bench-s1", "span_type_schemas": [
	  {"name": "invoke_agent", "params_schema": {"type": "object", "required": ["name"]}},
	  {"name": "chat", "params_schema": {"type": "object", "required": ["input", "attributes"],
		"properties": {"input": {"type": "array", "items": {"type": "object", "required": ["role"]}}}},
	   "result_schema": {"type": "object", "required": ["usage"], "properties": {"usage": {"type": "object",
		"required": ["input_tokens", "output_tokens"]}}}},
	  {"name": "execute_tool:search", "params_schema": {"type": "object", "required": ["input"]},
	   "result_schema": {"type": "object", "required": ["output"]}}]}'));
CREATE TABLE bench_token AS SELECT prefactor.prefactor_create_ingest_token('bench', 'bench-bot', 'production') AS token;

CREATE FUNCTION pg_temp.kv(k text, v jsonb) RETURNS jsonb LANGUAGE sql
	RETURN jsonb_build_object('key', k, 'value', v);
CREATE FUNCTION pg_temp.sv(s text) RETURNS jsonb LANGUAGE sql RETURN jsonb_build_object('stringValue', s);
CREATE TABLE bench_body AS
WITH spans AS (
	SELECT 0 AS n, lpad(to_hex(1), 16, '0') AS id, NULL::text AS parent, 'run' AS name, 0 AS start_ms, 1000 AS end_ms,
		   '[]'::jsonb AS attrs
	UNION ALL
	SELECT 1, lpad(to_hex(2), 16, '0'), lpad(to_hex(1), 16, '0'), 'invoke_agent bench-bot', 1, 999,
		   jsonb_build_array(pg_temp.kv('gen_ai.operation.name', pg_temp.sv('invoke_agent')),
							 pg_temp.kv('gen_ai.agent.name', pg_temp.sv('bench-bot')))
	UNION ALL
	SELECT i, lpad(to_hex(i + 1), 16, '0'), lpad(to_hex(2), 16, '0'),
		   CASE WHEN i % 2 = 0 THEN 'chat gpt-4o' ELSE 'execute_tool search' END, 2 + i * 10, 2 + i * 10 + 9,
		   CASE WHEN i % 2 = 0 THEN jsonb_build_array(
				pg_temp.kv('gen_ai.operation.name', pg_temp.sv('chat')),
				pg_temp.kv('gen_ai.request.model', pg_temp.sv('gpt-4o')),
				pg_temp.kv('gen_ai.usage.input_tokens', jsonb_build_object('intValue', (812 + i)::text)),
				pg_temp.kv('gen_ai.usage.output_tokens', jsonb_build_object('intValue', '64')),
				pg_temp.kv('gen_ai.input.messages', pg_temp.sv(jsonb_build_array(
					jsonb_build_object('role', 'system', 'parts', jsonb_build_array(jsonb_build_object('type', 'text', 'content', 'You answer questions about the product.'))),
					jsonb_build_object('role', 'user', 'parts', jsonb_build_array(jsonb_build_object('type', 'text', 'content', repeat('Question text. ', 30)))))::text)),
				pg_temp.kv('gen_ai.output.messages', pg_temp.sv(jsonb_build_array(
					jsonb_build_object('role', 'assistant', 'parts', jsonb_build_array(jsonb_build_object('type', 'text', 'content', repeat('Answer text. ', 15)))))::text)))
		   ELSE jsonb_build_array(
				pg_temp.kv('gen_ai.operation.name', pg_temp.sv('execute_tool')),
				pg_temp.kv('gen_ai.tool.name', pg_temp.sv('search')),
				pg_temp.kv('gen_ai.tool.call.arguments', pg_temp.sv('{"query": "offline mode", "limit": 5}')),
				pg_temp.kv('gen_ai.tool.call.result', pg_temp.sv(jsonb_build_object('hits', jsonb_build_array('a', 'b', 'c'), 'text', repeat('hit ', 40))::text)))
		   END
	  FROM generate_series(2, 99) i
)
SELECT jsonb_build_object('resourceSpans', jsonb_build_array(jsonb_build_object(
	'resource', jsonb_build_object('attributes', jsonb_build_array(
		pg_temp.kv('service.name', pg_temp.sv('bench-bot')), pg_temp.kv('service.version', pg_temp.sv('1.0.0')),
		pg_temp.kv('deployment.environment.name', pg_temp.sv('production')))),
	'scopeSpans', jsonb_build_array(jsonb_build_object('scope', jsonb_build_object('name', 'bench'),
		'spans', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('traceId', 'TRACEID', 'spanId', id, 'parentSpanId', parent,
					'name', name, 'kind', 1, 'startTimeUnixNano', ((1764590000000 + start_ms)::numeric * 1000000)::text,
					'endTimeUnixNano', ((1764590000000 + end_ms)::numeric * 1000000)::text,
					'attributes', attrs, 'status', '{}'::jsonb)) ORDER BY end_ms, n DESC) FROM spans))))))::text AS body;
