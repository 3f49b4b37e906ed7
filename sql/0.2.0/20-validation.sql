------------------------------------------------------------------------------
-- JSON Schema validation (engine: src/jsonschema/, glue: src/validation/validation.c).
-- Spans are validated by the span trigger against the span type of the run's
-- schema version; mismatches are recorded on the span, which is always stored.
------------------------------------------------------------------------------
CREATE FUNCTION jsonschema_is_valid(schema jsonb, instance jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prefactor_jsonschema_is_valid'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jsonschema_is_valid(jsonb, jsonb) IS
	'Whether the instance conforms to the JSON Schema (draft 2020-12 by default; 2019-09, draft-07, draft-06 or draft-04 by $schema); raises invalid_parameter_value for a malformed schema';

CREATE FUNCTION jsonschema_errors(schema jsonb, instance jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_jsonschema_errors'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jsonschema_errors(jsonb, jsonb) IS
	'Why the instance does not conform: an array of {instance_location, keyword_location, message} (empty when it conforms; at most prefactor.max_validation_errors)';

CREATE FUNCTION jsonschema_check(schema jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_jsonschema_check'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jsonschema_check(jsonb) IS
	'Problems with the JSON Schema itself: an array of {keyword_location, message}, empty when well-formed';

CREATE FUNCTION activity_schema_problems(schema jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'prefactor_activity_schema_problems'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION activity_schema_problems(jsonb) IS
	'Problems of every params and result schema of an activity schema document, as {span_type, schema, keyword_location, message}; NULL when all are well-formed';

COMMENT ON COLUMN spans.validation IS
	'validated: checked against the span type''s schemas; undeclared: the run''s schema version has no such span type; schema_invalid: that type''s schema is malformed; limit_exceeded: a depth, $ref, regex or arithmetic limit stopped validation (no verdict; the reason is in payload_errors or result_errors); NULL: stored with prefactor.validate_spans off';
COMMENT ON COLUMN spans.payload_conforms IS 'Whether the payload matched the span type''s params schema';
COMMENT ON COLUMN spans.payload_errors IS 'Why the payload did not match: [{instance_location, keyword_location, message}]; NULL when it matched';
COMMENT ON COLUMN spans.result_conforms IS 'Whether the result matched the span type''s result schema; NULL until there is a result';
COMMENT ON COLUMN spans.result_errors IS 'Why the result did not match; NULL when it matched';
COMMENT ON COLUMN activity_schema_versions.problems IS
	'Problems of the schema version''s JSON Schemas (from activity_schema_problems); NULL when well-formed. Spans of an affected type are flagged schema_invalid.';
