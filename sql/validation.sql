-- JSON Schema validation: the SQL functions and the span validation trigger.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
CREATE EXTENSION prefactor;
RESET client_min_messages;
SET search_path = prefactor, public;

-- The SQL functions.
SELECT jsonschema_is_valid('{"type": "object", "required": ["a"]}', '{"a": 1}') AS valid,
       jsonschema_is_valid('{"type": "object", "required": ["a"]}', '{"b": 1}') AS missing,
       jsonschema_is_valid('true', '[1, 2]') AS boolean_schema,
       jsonschema_is_valid('{"const": 1}', '1.0') AS one_is_one_point_zero;
SELECT jsonb_pretty(jsonschema_errors(
	'{"type": "object", "properties": {"messages": {"type": "array", "items": {"type": "object", "required": ["role"], "properties": {"role": {"enum": ["user", "assistant"]}}}}}}',
	'{"messages": [{"role": "user"}, {"role": "robot"}, {}]}'));
SELECT jsonschema_errors('{"type": "string"}', '"fine"') AS no_errors;
-- Draft-07 by $schema: items as an array is a tuple there.
SELECT jsonschema_is_valid('{"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}], "additionalItems": false}', '["a", 1]') AS draft7_tuple;
SELECT jsonschema_is_valid('{"prefixItems": [{"type": "string"}], "items": false}', '["a", 1]') AS draft2020_tuple;
-- format is an annotation unless prefactor.jsonschema_format_assertion is on.
SELECT jsonschema_is_valid('{"format": "email"}', '"not an email"') AS format_annotation;
SET prefactor.jsonschema_format_assertion = on;
SELECT jsonschema_is_valid('{"format": "email"}', '"not an email"') AS format_asserted,
       jsonschema_is_valid('{"format": "date-time"}', '"2024-05-06T07:08:09Z"') AS date_time_ok;
RESET prefactor.jsonschema_format_assertion;
-- Problems of a schema itself.
SELECT jsonschema_check('{"type": "object"}') AS well_formed;
SELECT jsonb_pretty(jsonschema_check('{"type": 5, "properties": {"a": {"minLength": -1}}, "pattern": "("}'));
SELECT jsonschema_is_valid('{"type": 5}', '1');
\echo :LAST_ERROR_SQLSTATE
-- A catastrophic pattern is cut off by the match limit instead of hanging.
SELECT jsonschema_is_valid('{"pattern": "^(a+)+$"}', to_jsonb(repeat('a', 40) || '!')) AS catastrophic;
-- Deep nesting is refused with an error, not a crash.
SELECT jsonschema_is_valid('{"type": "array"}', (repeat('[', 600) || repeat(']', 600))::jsonb) AS deep_but_shallow_schema;
SELECT jsonschema_errors('{"items": {"$ref": "#"}}', (repeat('[', 600) || repeat(']', 600))::jsonb)->0->>'message' AS deep_message;

-- Spans are validated against the span types of their run's schema version.
SELECT prefactor_create_account('acme') IS NOT NULL AS ok;
SELECT prefactor_create_environment('acme', 'production') IS NOT NULL AS ok;
SELECT prefactor_register_agent('acme', 'bot') IS NOT NULL AS ok;
SELECT prefactor_start_run('acme', 'bot', 'production', '{"external_identifier": "v1"}', $${
	"external_identifier": "s1",
	"$defs": {"message": {"type": "object", "required": ["role", "content"],
	                      "properties": {"role": {"enum": ["system", "user", "assistant"]}, "content": {"type": "string"}}}},
	"span_type_schemas": [
		{"name": "llm",
		 "params_schema": {"type": "object", "required": ["model", "messages"], "additionalProperties": false,
		                   "properties": {"model": {"type": "string", "pattern": "^[a-z0-9-]+$"},
		                                  "temperature": {"type": "number", "minimum": 0, "maximum": 2},
		                                  "messages": {"type": "array", "minItems": 1, "items": {"$ref": "urn:prefactor:schema#/$defs/message"}}}},
		 "result_schema": {"type": "object", "required": ["output"], "properties": {"output": {"type": "string"}}}},
		{"name": "user_message", "params_schema": {"$ref": "urn:prefactor:span-type:llm:params#/properties/messages/items"}},
		{"name": "tool:search", "params_schema": {"type": "object", "required": ["q"], "properties": {"q": {"type": "string", "pattern": "^(a+)+$"}}}},
		{"name": "broken", "params_schema": {"type": 5}}
	]}$$) AS run \gset
SELECT number, problems FROM activity_schema_versions;

-- A conforming span.
SELECT span_id AS ok_span FROM prefactor_start_span(:'run', 'llm', '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}') \gset
-- Each kind of mismatch: wrong type, missing required, extra property, enum, pattern, range, minItems.
SELECT span_id AS bad_span FROM prefactor_record_span(:'run', 'llm',
	'{"model": "GPT 4", "temperature": 3, "messages": [{"role": "robot", "content": 7}], "stream": true}',
	'{"output": 42}') \gset
SELECT (prefactor_record_span(:'run', 'llm', '{"messages": []}')).span_id IS NOT NULL AS stored;
-- $ref to another span type's schema.
SELECT (prefactor_record_span(:'run', 'user_message', '{"role": "user", "content": "hello"}')).span_id IS NOT NULL AS stored;
SELECT (prefactor_record_span(:'run', 'user_message', '{"role": "user"}')).span_id IS NOT NULL AS stored;
-- A catastrophic pattern: stored and flagged.
SELECT (prefactor_record_span(:'run', 'tool:search', jsonb_build_object('q', repeat('a', 40) || '!'))).span_id IS NOT NULL AS stored;
-- Undeclared and malformed types: stored and flagged.
SELECT (prefactor_record_span(:'run', 'tool:unknown', '{"x": 1}')).span_id IS NOT NULL AS stored;
SELECT (prefactor_record_span(:'run', 'broken', '{"x": 1}')).span_id IS NOT NULL AS stored;

SELECT span_type, validation, payload_conforms, result_conforms,
       jsonb_array_length(payload_errors) AS payload_error_count, jsonb_array_length(result_errors) AS result_error_count
  FROM spans ORDER BY started_at, span_type, payload_conforms NULLS FIRST, jsonb_array_length(payload_errors);
-- The errors say where: instance location, keyword location, message.
SELECT e->>'instance_location' AS instance_location, e->>'keyword_location' AS keyword_location, e->>'message' AS message
  FROM spans s, jsonb_array_elements(s.payload_errors) e
 WHERE s.id = :'bad_span' ORDER BY 1, 2;
SELECT result_errors FROM spans WHERE id = :'bad_span';
SELECT payload_errors->0->>'message' AS regex_message FROM spans WHERE span_type = 'tool:search';

-- A result that arrives with the finish is validated then.
SELECT terminate FROM prefactor_finish_span(:'ok_span', 'complete', '{"output": ["not", "a", "string"]}');
SELECT result_conforms, result_errors->0->>'keyword_location' AS where_ FROM spans WHERE id = :'ok_span';

-- The bulk path is validated the same way.
INSERT INTO spans (account_id, instance_id, span_type, payload)
SELECT account_id, id, 'llm', '{"model": "x"}' FROM instances WHERE id = :'run';
SELECT validation, payload_conforms, payload_errors->0->>'message' AS message FROM spans WHERE payload = '{"model": "x"}';

-- Validation can be switched off (superuser only) for bulk loads: conformance stays NULL.
SET prefactor.validate_spans = off;
SELECT (prefactor_record_span(:'run', 'llm', '{"nothing": "checked"}')).span_id IS NOT NULL AS stored;
RESET prefactor.validate_spans;
SELECT validation, payload_conforms FROM spans WHERE payload = '{"nothing": "checked"}';
