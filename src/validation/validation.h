/*
 * validation.h
 *	  Span validation against the JSON Schemas of the run's schema version,
 *	  with compiled schemas cached per backend.
 */
#ifndef PREFACTOR_VALIDATION_H
#define PREFACTOR_VALIDATION_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "core/pfid.h"

extern bool prefactor_validate_spans;
extern bool prefactor_format_assertion;
extern int	prefactor_max_validation_errors;

typedef enum SpanValidation
{
	SPAN_VALIDATED,				/* payload and result checked against the type's schemas */
	SPAN_UNDECLARED,			/* the schema version declares no such span type */
	SPAN_SCHEMA_INVALID,		/* the span type's schema is malformed */
	SPAN_LIMIT_EXCEEDED			/* a validator limit stopped it: not validated */
} SpanValidation;

extern const char *const span_validation_names[];

/* How a span of this type (NULL: undeclared) is validated. */
extern SpanValidation prefactor_span_validation(const Pfid *account, const Pfid *span_type);

/*
 * Validates the payload (is_result false) or result of a span of a declared,
 * well-formed type: sets *conforms, and *errors to a jsonb array of errors or
 * NULL (errors_null) when it conforms, and returns SPAN_VALIDATED.  When a
 * limit (nesting, regex backtracking, ...) stopped the validation before a
 * verdict it returns SPAN_LIMIT_EXCEEDED: *errors then holds the reason and
 * *conforms means nothing (false): record the span as not validated.
 */
extern SpanValidation prefactor_validate_span_part(const Pfid *account, const Pfid *span_type,
										 bool is_result, Jsonb *doc, bool *conforms,
										 Datum *errors, bool *errors_null);


#endif
