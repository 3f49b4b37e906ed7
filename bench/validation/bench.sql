-- Validation bench: 100,000 spans (~1 KB: LLM calls with a messages array, and
-- tool calls) inserted with validation on versus off, alternating, in one
-- session; then jsonschema_is_valid throughput over the same corpus.
\set QUIET on
\pset footer off
SET client_min_messages = warning;
-- the corpus (about 150 MB) in the session's temp buffers, so that the passes
-- time validation rather than reads of the temp table through the kernel
SET temp_buffers = '512MB';
CREATE EXTENSION IF NOT EXISTS prefactor;
SET search_path = prefactor, public;
SELECT prefactor_create_account('bench') IS NOT NULL AS ok \gset
SELECT prefactor_create_environment('bench', 'production') IS NOT NULL AS ok \gset
SELECT prefactor_register_agent('bench', 'bot') IS NOT NULL AS ok \gset
CREATE TEMP TABLE schemas AS SELECT $${
  "external_identifier": "bench",
  "$defs": {"message": {"type": "object", "required": ["role", "content"], "additionalProperties": false,
                        "properties": {"role": {"enum": ["system", "user", "assistant", "tool"]},
                                       "content": {"type": "string", "maxLength": 100000},
                                       "name": {"type": "string"}}}},
  "span_type_schemas": [
    {"name": "llm",
     "params_schema": {"type": "object", "required": ["model", "messages"],
       "properties": {"model": {"type": "string", "pattern": "^[a-z0-9.-]+$"},
                      "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                      "max_tokens": {"type": "integer", "minimum": 1},
                      "messages": {"type": "array", "minItems": 1, "items": {"$ref": "urn:prefactor:schema#/$defs/message"}},
                      "tools": {"type": "array", "items": {"type": "object", "required": ["name"]}}}},
     "result_schema": {"type": "object", "required": ["output"], "properties": {"output": {"type": "string"}}}},
    {"name": "tool:web_search",
     "params_schema": {"type": "object", "required": ["query"], "additionalProperties": false,
       "properties": {"query": {"type": "string", "minLength": 1}, "top_k": {"type": "integer", "minimum": 1, "maximum": 50},
                      "domains": {"type": "array", "items": {"type": "string", "format": "hostname"}},
                      "context": {"type": "string"}}}}
  ]}$$::jsonb AS doc;
SELECT prefactor_start_run('bench', 'bot', 'production', '{"external_identifier": "v1"}', doc) AS run FROM schemas \gset
SELECT account_of(:'run') AS acct \gset

-- the corpus: alternately an LLM call and a tool call, about 1 KB each
CREATE TEMP TABLE corpus AS
SELECT g, CASE WHEN g % 2 = 0 THEN 'llm' ELSE 'tool:web_search' END AS span_type,
       CASE WHEN g % 2 = 0 THEN jsonb_build_object(
            'model', 'gpt-4o-mini', 'temperature', 0.2, 'max_tokens', 512,
            'messages', jsonb_build_array(
                jsonb_build_object('role', 'system', 'content', 'You are a careful support agent. ' || repeat('Be concise. ', 20)),
                jsonb_build_object('role', 'user', 'content', 'Order ' || g || ' has not arrived. ' || repeat('Please help. ', 25)),
                jsonb_build_object('role', 'assistant', 'content', repeat('Let me check that for you. ', 10))))
       ELSE jsonb_build_object('query', 'refund policy for order ' || g, 'top_k', 5,
            'domains', jsonb_build_array('help.example.com', 'docs.example.com'),
            'context', repeat('customer asked about a late delivery and a refund; ', 16)) END AS payload
  FROM generate_series(1, 100000) g;
SELECT round(avg(length(payload::text))) AS avg_payload_bytes FROM corpus;

CREATE TEMP TABLE timings (mode text, seconds float8);
CREATE FUNCTION pg_temp.insert_corpus(validate boolean, acct pfid, run pfid) RETURNS float8 LANGUAGE plpgsql AS $f$
DECLARE t0 timestamptz;
BEGIN
	PERFORM set_config('prefactor.validate_spans', validate::text, true);
	t0 := clock_timestamp();
	INSERT INTO prefactor.spans (account_id, instance_id, span_type, payload, status, finished_at)
	SELECT acct, run, c.span_type, c.payload, 'complete', now() FROM corpus c;
	RETURN extract(epoch FROM clock_timestamp() - t0);
END $f$;
-- alternate on/off three times each, starting with a warm-up
SELECT pg_temp.insert_corpus(true, :'acct', :'run') IS NOT NULL AS warmed_up \gset
INSERT INTO timings SELECT 'validated', pg_temp.insert_corpus(true, :'acct', :'run');
INSERT INTO timings SELECT 'unvalidated', pg_temp.insert_corpus(false, :'acct', :'run');
INSERT INTO timings SELECT 'validated', pg_temp.insert_corpus(true, :'acct', :'run');
INSERT INTO timings SELECT 'unvalidated', pg_temp.insert_corpus(false, :'acct', :'run');
INSERT INTO timings SELECT 'validated', pg_temp.insert_corpus(true, :'acct', :'run');
INSERT INTO timings SELECT 'unvalidated', pg_temp.insert_corpus(false, :'acct', :'run');
SELECT count(*) FILTER (WHERE payload_conforms) AS conforming, count(*) FILTER (WHERE NOT payload_conforms) AS mismatches
  FROM spans WHERE validation = 'validated';

\echo 'inserts of 100,000 spans (median of 3):'
WITH m AS (SELECT mode, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS s FROM timings GROUP BY mode)
SELECT v.s::numeric(8,3) AS validated_s, u.s::numeric(8,3) AS unvalidated_s,
       (100000 / v.s)::int AS validated_spans_per_s, (100000 / u.s)::int AS unvalidated_spans_per_s,
       (u.s / v.s)::numeric(4,2) AS throughput_ratio
  FROM m v, m u WHERE v.mode = 'validated' AND u.mode = 'unvalidated';

\echo 'jsonschema_is_valid on the same corpus:'
CREATE TEMP TABLE corpus_schema AS
SELECT c.g, c.payload, t.params_schema FROM corpus c
  JOIN span_types t ON t.name = c.span_type AND t.account_id = :'acct';
-- the standalone function sees each schema as a document of its own: inline the $defs reference
UPDATE corpus_schema SET params_schema = jsonb_set(params_schema, '{properties,messages,items}',
	(SELECT doc->'$defs'->'message' FROM schemas)) WHERE params_schema ? 'required' AND params_schema->'required' ? 'messages';
SELECT count(*) FILTER (WHERE jsonschema_is_valid(params_schema, payload)) AS valid FROM corpus_schema;
-- five timed passes (the first above warmed up the schema cache); the median
-- and every pass, since a shared machine is noisy
CREATE FUNCTION pg_temp.is_valid_pass() RETURNS float8 LANGUAGE plpgsql AS $f$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	PERFORM count(*) FILTER (WHERE jsonschema_is_valid(params_schema, payload)) FROM corpus_schema;
	RETURN 100000 / extract(epoch FROM clock_timestamp() - t0);
END $f$;
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v)::int AS validations_per_s,
       array_agg(v::int) AS passes
  FROM (SELECT pg_temp.is_valid_pass() AS v FROM generate_series(1, 5)) p;
