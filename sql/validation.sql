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
-- A limit that stops validation is an error, never a verdict: a catastrophic
-- pattern is cut off by the match limit instead of hanging.
SELECT jsonschema_is_valid('{"pattern": "^(a+)+$"}', to_jsonb(repeat('a', 40) || '!')) AS catastrophic;
\echo :LAST_ERROR_SQLSTATE
SELECT jsonschema_errors('{"pattern": "^(a+)+$"}', to_jsonb(repeat('a', 40) || '!')) AS catastrophic;
\echo :LAST_ERROR_SQLSTATE
-- A $ref cycle that never consumes the instance.
SELECT jsonschema_is_valid('{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}', '1') AS ref_loop;
\echo :LAST_ERROR_SQLSTATE
-- Deep documents validate (arrays 3,000 levels, objects 2,500 under the default
-- max_stack_depth of 2MB), with a verdict either way.
SELECT jsonschema_is_valid('{"items": {"$ref": "#"}}', (repeat('[', 3000) || repeat(']', 3000))::jsonb) AS arrays_3000_deep;
SELECT jsonschema_is_valid('{"type": "array", "items": {"$ref": "#"}}', (repeat('[', 3000) || '1' || repeat(']', 3000))::jsonb) AS number_at_3000;
SELECT length(jsonschema_errors('{"type": "array", "items": {"$ref": "#"}}', (repeat('[', 3000) || '1' || repeat(']', 3000))::jsonb)->0->>'instance_location') AS error_location_length;
SELECT jsonschema_is_valid('{"additionalProperties": {"$ref": "#"}}', (repeat('{"a": ', 2500) || '{}' || repeat('}', 2500))::jsonb) AS objects_2500_deep;
-- Deeper than the stack allows (max_stack_depth): an error, not a crash and not "false".
CREATE TEMP TABLE deep AS SELECT (repeat('[', 3000) || repeat(']', 3000))::jsonb AS doc;
SET max_stack_depth = '200kB';
-- (terse: the depth reached depends on the compiler's frame sizes)
\set VERBOSITY terse
SELECT jsonschema_is_valid('{"items": {"$ref": "#"}}', doc) AS too_deep FROM deep;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
RESET max_stack_depth;
DROP TABLE deep;

-- Numbers are judged on their exact decimal value, not a double.
SELECT jsonschema_is_valid('{"type": "integer"}', '1e400') AS big_is_integer,
       jsonschema_is_valid('{"type": "integer"}', '-1e400') AS negative_big_is_integer,
       jsonschema_is_valid('{"type": "integer"}', '1e-400') AS tiny_is_not_integer,
       jsonschema_is_valid('{"type": "integer"}', '1.0') AS one_point_zero_is_integer,
       jsonschema_is_valid('{"type": "integer"}', '9007199254740993.5') AS beyond_double_fraction;
SELECT jsonschema_is_valid('{"minimum": 0.1}', '0.1') AS minimum_at_edge,
       jsonschema_is_valid('{"minimum": 0.1}', '0.09999999999999999999') AS just_below_minimum,
       jsonschema_is_valid('{"maximum": 1e400}', '1e400') AS maximum_at_edge,
       jsonschema_is_valid('{"maximum": 1e400}', ('1' || repeat('0', 399) || '1')::jsonb) AS just_above_maximum,
       jsonschema_is_valid('{"exclusiveMinimum": 0}', '1e-400') AS tiny_above_zero,
       jsonschema_is_valid('{"exclusiveMaximum": 2}', '2.0') AS exclusive_maximum_at_edge;
SELECT jsonschema_is_valid('{"multipleOf": 0.1}', '0.3') AS point_three_of_point_one,
       jsonschema_is_valid('{"multipleOf": 0.0001}', '0.0075') AS small_decimals,
       jsonschema_is_valid('{"multipleOf": 3}', '1e400') AS ten_to_400_of_three,
       jsonschema_is_valid('{"multipleOf": 3}', '3e400') AS three_e400_of_three,
       jsonschema_is_valid('{"multipleOf": 0.00001}', '1e-5') AS tiny_of_itself;
SELECT jsonschema_is_valid('{"const": 1e400}', '1e400') AS const_big,
       jsonschema_is_valid('{"enum": [0.1, 2]}', '0.10') AS enum_trailing_zero,
       jsonschema_is_valid('{"const": 0.1}', '0.1000000000000000055511151231257827') AS const_not_double_equal,
       jsonschema_is_valid('{"uniqueItems": true}', '[1, 1.00]') AS unique_one_and_one;
SELECT jsonschema_errors('{"maximum": 2}', '1e400')->0->>'message' AS big_number_message;
-- String lengths count code points: an emoji (4 bytes), e + combining accent (2).
SELECT jsonschema_is_valid('{"maxLength": 1}', '"😀"') AS emoji_is_one,
       jsonschema_is_valid('{"minLength": 2}', '"😀"') AS emoji_is_not_two,
       jsonschema_is_valid('{"maxLength": 1}', to_jsonb(E'e\u0301'::text)) AS combining_is_two;

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

-- Older dialects by $schema: draft-04 (boolean exclusiveMaximum, no const), and a
-- draft-06 resource inside a draft-07 document (SchemaStore's ui5-manifest does this).
SELECT jsonschema_is_valid('{"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 3, "exclusiveMaximum": true}', '3') AS d4_exclusive,
       jsonschema_is_valid('{"$schema": "http://json-schema.org/draft-04/schema#", "const": 1}', '2') AS d4_no_const,
       jsonschema_is_valid($${"$schema": "http://json-schema.org/draft-07/schema#", "$ref": "#/definitions/d6",
         "definitions": {"d6": {"$id": "http://example.com/d6.json", "$schema": "http://json-schema.org/draft-06/schema#",
                                "if": false, "const": 1}}}$$, '1') AS d6_in_d7,
       jsonschema_is_valid($${"$schema": "https://json-schema.org/draft/2019-09/schema",
         "items": [{"type": "integer"}], "additionalItems": false}$$, '[1, 2]') AS d2019_additional_items;

-- A map of URI to document that $ref may reach.
SELECT jsonschema_is_valid('{"$ref": "https://example.com/pos.json"}', '5',
                           '{"https://example.com/pos.json": {"type": "integer", "minimum": 1}}') AS doc_ok,
       jsonschema_is_valid('{"$ref": "https://example.com/pos.json"}', '0',
                           '{"https://example.com/pos.json": {"type": "integer", "minimum": 1}}') AS doc_bad;
SELECT jsonschema_errors('{"properties": {"n": {"$ref": "https://example.com/pos.json"}}}', '{"n": -1}',
                         '{"https://example.com/pos.json": {"minimum": 1}}') AS doc_errors;
-- Without the document, or with a map that is not one: invalid_parameter_value.
SELECT jsonschema_is_valid('{"$ref": "https://example.com/pos.json"}', '5', '{}');
SELECT jsonschema_is_valid('{"$ref": "https://example.com/pos.json"}', '5', '[1]');
SELECT jsonschema_is_valid('{"$ref": "https://example.com/pos.json"}', '5', '{"https://example.com/pos.json#/x": {}}');

-- Shared documents registered by URI: versioned, pinned per schema version, never changed.
SELECT prefactor_register_schema_document('acme', 'https://acme.example/address.json',
	'{"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}') AS doc_v1 \gset
SELECT prefactor_register_schema_document('acme', 'https://acme.example/address.json',
	'{"properties": {"city": {"type": "string"}}, "required": ["city"], "type": "object"}') = :'doc_v1' AS same_content_same_version;
SELECT prefactor_start_run('acme', 'bot', 'production', '{"external_identifier": "v2"}', $${
	"external_identifier": "s2",
	"span_type_schemas": [{"name": "ship", "params_schema": {"$ref": "https://acme.example/address.json"}}]}$$) AS run2 \gset
SELECT number, problems FROM activity_schema_versions ORDER BY number;
SELECT (prefactor_record_span(:'run2', 'ship', '{"city": "Oslo"}')).span_id IS NOT NULL AS stored;
SELECT (prefactor_record_span(:'run2', 'ship', '{"town": "Oslo"}')).span_id IS NOT NULL AS stored;
-- A new version under the same URI: schema versions created from now on use it.
SELECT prefactor_register_schema_document('acme', 'https://acme.example/address.json',
	'{"type": "object", "required": ["city", "zip"]}') <> :'doc_v1' AS new_version;
SELECT prefactor_start_run('acme', 'bot', 'production', '{"external_identifier": "v3"}', $${
	"external_identifier": "s3",
	"span_type_schemas": [{"name": "ship", "params_schema": {"$ref": "https://acme.example/address.json"}}]}$$) AS run3 \gset
SELECT (prefactor_record_span(:'run3', 'ship', '{"city": "Oslo"}')).span_id IS NOT NULL AS stored;
SELECT (prefactor_record_span(:'run2', 'ship', '{"city": "Bergen"}')).span_id IS NOT NULL AS stored;
-- run2's schema version still validates with version 1 of the document, run3's with version 2.
SELECT CASE s.instance_id WHEN :'run2' THEN 'run2' ELSE 'run3' END AS run, s.payload->>'city' AS city,
       s.payload_conforms
  FROM spans s WHERE s.span_type = 'ship' ORDER BY 1, 2;
SELECT v.number AS schema_version, d.uri, d.version AS document_version
  FROM schema_version_documents p JOIN activity_schema_versions v ON v.id = p.schema_version_id
  JOIN schema_documents d ON d.id = p.document_id ORDER BY 1;
-- A missing document is a problem of the schema version; a bad URI or schema is refused.
SELECT prefactor_start_run('acme', 'bot', 'production', '{"external_identifier": "v4"}', $${
	"external_identifier": "s4",
	"span_type_schemas": [{"name": "gone", "params_schema": {"$ref": "https://acme.example/none.json"}}]}$$) IS NOT NULL AS ok;
SELECT number, problems->0->>'message' AS problem FROM activity_schema_versions WHERE number = 4;
SELECT prefactor_register_schema_document('acme', 'address.json', '{}');
SELECT prefactor_register_schema_document('acme', 'https://acme.example/x.json', '{"type": 5}');
UPDATE schema_documents SET schema = '{}';
